"""Fixtures of the local bed, shared by every test.

Services start once per session and fail loudly if they cannot: a test that needs the
bed never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from crossline.bed.aws import TEST_ENV, MotoServer


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto server: every backend reset; returns its endpoint URL.

    Also points boto3 in this process at it through AWS_ENDPOINT_URL.
    """
    moto_server.reset()
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    yield moto_server.endpoint_url
