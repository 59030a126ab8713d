"""Run the Marquez API stand-in: ``python -m crossline_bed.marquez_standin``.

Contract: serves the API on ``--host``/``--port`` and the admin app (``/healthcheck``,
``/ping``) on ``--admin-port``, in one process with two threaded werkzeug servers, after
creating the schema in the PostgreSQL database named by ``$CROSSLINE_MARQUEZ_STANDIN_DSN``
(or ``--dsn``) if missing. The environment is the way to pass a DSN that carries a
password: a command line is visible to every local user. SIGTERM or SIGINT stops both
servers and exits 0. The first log line says this is the crossline stand-in, not Marquez.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from werkzeug.serving import make_server

from crossline_bed.marquez_standin import jackson
from crossline_bed.marquez_standin.api import admin_app, api_app
from crossline_bed.marquez_standin.launcher import DSN_ENV
from crossline_bed.marquez_standin.store import Store

log = logging.getLogger("crossline_bed.marquez_standin")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossline_bed.marquez_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--dsn", default=os.environ.get(DSN_ENV),
                        help=f"PostgreSQL DSN, e.g. postgresql://user@127.0.0.1:5432/db (default: ${DSN_ENV})")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error(f"no database: set {DSN_ENV} or pass --dsn")
    # Python's parser recurses once per level: it must reach Jackson's 1000 (see jackson).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * jackson.MAX_DEPTH))
    # A request of a few queries should not wait long for the interpreter while a large
    # event's rows are built or read in another thread.
    sys.setswitchinterval(0.001)

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
