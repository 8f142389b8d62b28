"""Remote access through botocore: credentials from profiles, the environment and session tokens reach a
verifying server; dummy keys when there are none; botocore's retries; errors with botocore's ``response``."""

from __future__ import annotations

import socket

import pytest

import shardstream
from shardstream import ResourceNotFoundException
from shardstream.errors import InternalFailureException, RemoteConnectionError
from shardstream.testing import start_server

TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//session+token=="


def _sent_headers(engine) -> list[dict]:
    """Every request's headers, as the engine's botocore client sends them."""
    sent: list[dict] = []

    def keep(request, **_):
        sent.append({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    engine.client.meta.events.register("before-send", keep)
    return sent


@pytest.fixture
def verifying_server():
    """A server that checks every signature against one key (eu-west-1's engine)."""
    auth = {"keys": {"AKIDPROFILE": {"secret": "s3cret"}}}
    with start_server(shardstream.Engine(region="eu-west-1"), auth=auth) as handle:
        yield handle


def test_profile_keys_and_session_token_reach_the_server(aws, verifying_server):
    aws.profile("team", "AKIDPROFILE", "s3cret", token=TOKEN, region="eu-west-1")
    aws.setenv("AWS_ENDPOINT_URL_KINESIS", verifying_server.url)
    with shardstream.connect("aws://", profile="team") as engine:
        sent = _sent_headers(engine)
        engine.create_stream("signed", 1).put_record(b"x", "k")
    assert verifying_server.engine.stream("signed").read_table().num_rows == 1
    authorization = sent[-1]["Authorization"]
    assert "Credential=AKIDPROFILE/" in authorization and "/eu-west-1/kinesis/" in authorization
    # the token is sent and signed: the server verified a signature over it
    assert sent[-1]["X-Amz-Security-Token"] == TOKEN
    assert "x-amz-security-token" in authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def test_aws_profile_variable_and_a_wrong_secret(aws, verifying_server):
    aws.profile("wrong", "AKIDPROFILE", "not-the-secret")
    aws.setenv("AWS_PROFILE", "wrong")
    with shardstream.connect(verifying_server.url, region="eu-west-1") as engine:
        with pytest.raises(shardstream.KinesisError) as ei:
            engine.list_streams()
    assert ei.value.error_type == "InvalidSignatureException"
    assert ei.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400  # as Kinesis answers it


def test_environment_keys_and_token(aws, verifying_server):
    aws.setenv("AWS_ACCESS_KEY_ID", "AKIDPROFILE")
    aws.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    aws.setenv("AWS_SESSION_TOKEN", TOKEN)
    with shardstream.connect(verifying_server.url, region="eu-west-1") as engine:
        sent = _sent_headers(engine)
        assert engine.list_streams()["StreamNames"] == []
    assert sent[-1]["X-Amz-Security-Token"] == TOKEN


def test_dummy_keys_when_there_are_no_credentials(aws, server):
    with shardstream.connect(server.url) as engine:
        sent = _sent_headers(engine)
        engine.create_stream("anon", 1)
    assert "Credential=AKIDSHARDSTREAM/" in sent[-1]["Authorization"]
    assert "X-Amz-Security-Token" not in sent[-1]


def test_botocore_retries_a_5xx_and_a_throttle(aws, flaky):
    proxy = flaky([(500, "InternalFailureException"), (400, "ProvisionedThroughputExceededException")])
    with shardstream.connect(proxy.url, retries=2) as engine:
        assert engine.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
        assert engine.create_stream("retried", 1).put_record(b"x", "k")["ShardId"] == "shardId-000000000000"
    assert proxy.requests >= 3 and not proxy.failures


def test_without_retries_the_error_is_raised_with_its_response(aws, flaky):
    proxy = flaky([(500, "InternalFailureException")])
    with shardstream.connect(proxy.url, retries=0) as engine:
        with pytest.raises(InternalFailureException) as ei:
            engine.list_streams()
        assert engine.list_streams()["StreamNames"] == []  # the next call goes through
    assert ei.value.response["Error"] == {"Code": "InternalFailureException", "Message": "injected"}
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert proxy.requests == 2


@pytest.mark.parametrize("where", ["embedded", "remote"])
def test_errors_carry_a_botocore_response(where, aws, server):
    engine = server.engine if where == "embedded" else shardstream.connect(server.url)
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.stream("missing")
    error = ei.value.response["Error"]
    assert error == {"Code": "ResourceNotFoundException", "Message": str(ei.value)}
    assert str(ei.value) == "Stream missing under account 000000000000 not found."
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert isinstance(ei.value, LookupError)


def test_no_answer_is_a_connection_error(aws):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with shardstream.connect(f"http://127.0.0.1:{port}", retries=0, timeout=5) as engine:
        with pytest.raises(ConnectionError) as ei:
            engine.list_streams()
    assert isinstance(ei.value, RemoteConnectionError) and ei.value.url == f"http://127.0.0.1:{port}"
