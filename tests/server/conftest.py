"""Fixtures for the HTTP server tests: a real server on a loopback port and a real boto3 client."""

from __future__ import annotations

# The server's dependencies and boto3 are in the test extra: imported outright, so that a missing
# one fails every server test loudly instead of skipping them all.
import aiohttp  # noqa: F401
import boto3  # noqa: F401
import orjson  # noqa: F401
import pytest

import shardstream
from shardstream.testing import boto3_client, start_server

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
