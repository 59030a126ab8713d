"""Standalone moto server with the SageMaker lineage emulator: ``python -m crossline.bed.sagemaker_lineage [HOST] [PORT]``.

Contract: serves in the foreground on HOST (default 127.0.0.1) and PORT (default 5000),
exactly as the bed's ``MotoServer`` child does, so a boto3 client with
``endpoint_url=http://HOST:PORT`` sees the lineage API.
"""

from __future__ import annotations

import sys

from crossline.bed.aws import serve
from crossline.bed.process import LOOPBACK


def main(argv: list[str]) -> None:
    host = argv[0] if argv else LOOPBACK
    port = int(argv[1]) if len(argv) > 1 else 5000
    serve(host, port)


if __name__ == "__main__":
    main(sys.argv[1:])
