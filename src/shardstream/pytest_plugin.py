"""pytest fixtures for testing Kinesis code with shardstream (registered as a ``pytest11`` entry point).

Nothing heavy is imported until a fixture is used, so the plugin costs nothing in
projects that do not use it.

Fixtures (each new per test):

``kinesis_engine``
    A fresh in-memory :class:`~shardstream.Engine`.
``kinesis_client``
    A boto3 ``kinesis`` client answered in process by ``kinesis_engine``
    (:func:`shardstream.testing.mock_kinesis` is active for the test, so any
    other boto3 Kinesis client the code under test makes is answered by the
    same engine).
``kinesis_server``
    A real server on a free loopback port (:func:`shardstream.testing.start_server`),
    as a :class:`~shardstream.testing.ServerHandle`: ``.url``, ``.engine``.
"""

from __future__ import annotations

import pytest

__all__ = ["kinesis_client", "kinesis_engine", "kinesis_server"]


@pytest.fixture
def kinesis_engine():
    """A fresh in-memory engine, closed after the test.

    Returns
    -------
    shardstream.Engine
    """
    from shardstream import Engine

    engine = Engine()
    yield engine
    engine.close()


@pytest.fixture
def kinesis_client(kinesis_engine):
    """A boto3 ``kinesis`` client answered in process by ``kinesis_engine`` (no socket).

    Parameters
    ----------
    kinesis_engine : shardstream.Engine
        The fixture of that name.

    Returns
    -------
    botocore.client.BaseClient
    """
    import boto3
    from botocore.config import Config

    from shardstream.testing import mock_kinesis

    with mock_kinesis(kinesis_engine):
        yield boto3.session.Session().client(
            "kinesis",
            region_name=kinesis_engine.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )


@pytest.fixture
def kinesis_server():
    """A real shardstream server on a free 127.0.0.1 port, stopped after the test.

    Returns
    -------
    shardstream.testing.ServerHandle
        ``.url`` to point clients at, ``.engine`` to look inside.
    """
    from shardstream.testing import start_server

    with start_server() as server:
        yield server
