"""The pytest plugin (entry point ``shardstream``): its fixtures used by a test file run with pytester."""

from __future__ import annotations

import subprocess
import sys

pytest_plugins = ["pytester"]

USES_THE_FIXTURES = """
import urllib.request

import boto3

from shardstream.testing import boto3_client


def test_engine(kinesis_engine):
    kinesis_engine.create_stream("a", 1)
    assert kinesis_engine.list_streams()["StreamNames"] == ["a"]


def test_client_is_bound_to_the_engine(kinesis_client, kinesis_engine):
    kinesis_client.create_stream(StreamName="b", ShardCount=2)
    kinesis_client.put_record(StreamName="b", Data=b"x", PartitionKey="k")
    assert kinesis_engine.list_streams()["StreamNames"] == ["b"]
    assert kinesis_engine.stream("b").read_table().num_rows == 1
    # any other boto3 kinesis client made by the code under test is answered by the same engine
    other = boto3.client("kinesis", region_name=kinesis_engine.region)
    assert other.list_streams()["StreamNames"] == ["b"]


def test_each_test_gets_a_fresh_engine(kinesis_client):
    assert kinesis_client.list_streams()["StreamNames"] == []


def test_server_is_a_real_loopback_server(kinesis_server):
    assert kinesis_server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(kinesis_server.url + "/_shardstream/health") as answer:
        assert answer.status == 200
    kinesis = boto3_client(kinesis_server.url)
    kinesis.create_stream(StreamName="c", ShardCount=1)
    assert kinesis_server.engine.list_streams()["StreamNames"] == ["c"]
"""


def test_fixtures_in_a_test_file(pytester):
    pytester.makepyfile(test_uses_fixtures=USES_THE_FIXTURES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_fixture_errors_are_reported_as_failures(pytester):
    pytester.makepyfile(
        test_fails="""
        from botocore.exceptions import ClientError
        import pytest

        def test_missing_stream(kinesis_client):
            with pytest.raises(ClientError) as info:
                kinesis_client.describe_stream_summary(StreamName="nope")
            assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
            assert False, "reported"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: reported*"])


def test_plugin_import_is_cheap():
    code = (
        "import sys, shardstream.pytest_plugin; "
        "print(sorted(m for m in ('boto3', 'botocore', 'aiohttp', 'moto') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
