"""Run the Marquez API stand-in: ``python -m crossline_bed.marquez_standin``.

Contract: serves the API on ``--host``/``--port`` and the admin app (``/healthcheck``,
``/ping``) on ``--admin-port``, in one process with two threaded werkzeug servers, after
creating the schema in ``--dsn`` if missing. SIGTERM or SIGINT stops both servers and
exits 0. The first log line says this is the crossline stand-in, not Marquez.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from werkzeug.serving import make_server

from crossline_bed.marquez_standin.api import admin_app, api_app
from crossline_bed.marquez_standin.store import Store

log = logging.getLogger("crossline_bed.marquez_standin")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossline_bed.marquez_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--dsn", required=True, help="PostgreSQL DSN, e.g. postgresql://user@127.0.0.1:5432/db")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info(
        "crossline Marquez stand-in (a mock of the Marquez 0.50 REST API, not Marquez) starting: "
        "api http://%s:%d/api/v1, admin http://%s:%d",
        args.host, args.port, args.host, args.admin_port,
    )
    store = Store(args.dsn)
    store.migrate()
    servers = [
        make_server(args.host, args.port, api_app(store), threaded=True),
        make_server(args.host, args.admin_port, admin_app(store), threaded=True),
    ]
    threads = [threading.Thread(target=s.serve_forever, name=f"standin-{i}", daemon=True) for i, s in enumerate(servers)]
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for t in threads:
        t.start()
    log.info("crossline Marquez stand-in ready")
    stop.wait()
    log.info("crossline Marquez stand-in stopping")
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
