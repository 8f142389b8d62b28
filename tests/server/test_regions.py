"""One engine per region: streams are scoped by the region a request is signed for, up to a cap."""

import http.client
import itertools
import json
import os
import string
import threading
import urllib.request

import pytest

import shardstream
from shardstream.server.app import DEFAULT_MAX_REGIONS
from shardstream.testing import boto3_client, start_server


def test_regions_have_separate_streams(server):
    east = boto3_client(server.url, region="us-east-1")
    west = boto3_client(server.url, region="eu-west-1")
    east.create_stream(StreamName="orders", ShardCount=1)
    west.create_stream(StreamName="orders", ShardCount=2)  # same name, other region: no conflict
    east_desc = east.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    west_desc = west.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    assert east_desc["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    assert west_desc["StreamARN"] == "arn:aws:kinesis:eu-west-1:000000000000:stream/orders"
    assert (east_desc["OpenShardCount"], west_desc["OpenShardCount"]) == (1, 2)
    west.put_record(StreamName="orders", Data=b"w", PartitionKey="k")
    assert server.engine.stream("orders").read_table().num_rows == 0  # the default engine is us-east-1's
    assert boto3_client(server.url, region="ap-south-1").list_streams()["StreamNames"] == []


# -- the cap on regions ---------------------------------------------------------------------------


def region_names(n: int) -> list[str]:
    """``n`` distinct well-formed region names (``ab-test-1``, ...)."""
    letters = ("".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2))
    return [f"{two}-test-1" for two, _ in zip(letters, range(n))]


def post_in(conn: http.client.HTTPConnection, region: str, operation: str = "ListStreams", body: dict | None = None):
    """A well-formed (never verified) SigV4 request scoped to ``region``: (status, decoded answer)."""
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/{region}/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20240101T000000Z",
        "X-Amz-Target": "Kinesis_20131202." + operation,
        "Content-Type": "application/x-amz-json-1.1",
    }
    conn.request("POST", "/", json.dumps(body or {}).encode(), headers)
    answer = conn.getresponse()
    data = answer.read()
    return answer.status, (json.loads(data) if data else None)


def maintenance_threads() -> int:
    return sum(t.name == "shardstream-maintenance" for t in threading.enumerate())


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_300_regions_make_at_most_the_cap_of_engines_lazily(tmp_path):
    home = tmp_path / "us-east-1"
    with shardstream.Engine(data_dir=home) as engine, start_server(engine) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        threads, fds = maintenance_threads(), open_fds()
        answers = [post_in(conn, region) for region in region_names(300)]
        served = [a for a in answers if a[0] == 200]
        refused = [a for a in answers if a[0] != 200]
        assert len(served) == DEFAULT_MAX_REGIONS - 1  # the default engine's region is the first of the cap
        assert {status for status, _ in refused} == {400}
        status, body = refused[-1]
        assert body["__type"] == "InvalidSignatureException"
        assert body["message"].startswith(
            f"Credential should be scoped to a valid region, not '{region_names(300)[-1]}'."
        )
        assert f"serves at most {DEFAULT_MAX_REGIONS} regions" in body["message"] and "--max-regions" in body["message"]
        assert len(list(tmp_path.iterdir())) == DEFAULT_MAX_REGIONS
        assert open_fds() - fds <= DEFAULT_MAX_REGIONS + 2  # a lock file each, plus the connection's slack
        assert maintenance_threads() == threads  # engines without streams run no thread
        health = json.loads(urlopen(server.url + "/_shardstream/health").read())
        assert len(health["regions"]) == DEFAULT_MAX_REGIONS
        # a served region keeps answering; its first stream starts its engine's one background thread
        first = region_names(1)[0]
        assert post_in(conn, first, "CreateStream", {"StreamName": "s", "ShardCount": 1})[0] == 200
        assert maintenance_threads() == threads + 1
        conn.close()


def urlopen(url: str):
    return urllib.request.urlopen(url, timeout=10)


def test_only_listed_regions_are_served():
    with start_server(regions=["eu-west-1"]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        assert post_in(conn, "eu-west-1")[0] == 200
        assert post_in(conn, "us-east-1")[0] == 200  # the default engine's region is always served
        status, body = post_in(conn, "ap-south-1")
        assert (status, body["__type"]) == (400, "InvalidSignatureException")
        assert body["message"] == (
            "Credential should be scoped to a valid region, not 'ap-south-1'. "
            "This server serves only eu-west-1, us-east-1 (shardstream serve --regions)."
        )
        conn.close()


def test_max_regions_parameter():
    with start_server(max_regions=2) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        assert post_in(conn, "eu-west-1")[0] == 200
        status, body = post_in(conn, "eu-west-2")
        assert status == 400 and "serves at most 2 regions and serves us-east-1, eu-west-1 already" in body["message"]
        assert post_in(conn, "eu-west-1")[0] == 200  # one already served goes on being served
        conn.close()
    with pytest.raises(ValueError, match="max_regions"):
        start_server(max_regions=0)


def test_a_region_whose_directory_another_engine_holds_is_a_clear_error(tmp_path):
    holder = shardstream.Engine(data_dir=tmp_path / "eu-west-1", region="eu-west-1")
    with shardstream.Engine(data_dir=tmp_path / "us-east-1") as engine, start_server(engine) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        status, body = post_in(conn, "eu-west-1")
        assert (status, body["__type"]) == (400, "ResourceInUseException")
        assert body["message"].startswith("Region eu-west-1 cannot be served: data directory ")
        assert str(tmp_path / "eu-west-1") in body["message"] and "in use by another engine" in body["message"]
        holder.close()
        assert post_in(conn, "eu-west-1")[0] == 200  # tried again once it is free
        conn.close()
