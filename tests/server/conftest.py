"""Fixtures for the HTTP server tests: a real server on a loopback port and a real boto3 client."""

from __future__ import annotations

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("orjson")
pytest.importorskip("boto3")

import shardstream  # noqa: E402
from shardstream.testing import boto3_client, start_server  # noqa: E402

FAST_WAITER = {"Delay": 0.1, "MaxAttempts": 50}


@pytest.fixture
def engine():
    return shardstream.Engine()


@pytest.fixture
def server(engine):
    with start_server(engine) as handle:
        yield handle


@pytest.fixture
def kinesis(server):
    return boto3_client(server.url)
