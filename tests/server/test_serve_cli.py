"""``shardstream serve``: --log-level, --access-log and the health endpoint, in a real child process."""

from __future__ import annotations

import json
import sys
import urllib.request

import pytest
from serve_process import ServeProcess

import shardstream
from shardstream.testing import boto3_client

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals to a child process")


def get(url: str, path: str) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url + path, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()


def test_health_endpoint_of_a_served_process(tmp_path):
    with ServeProcess("--data-dir", str(tmp_path), "--region", "eu-west-1") as server:
        status, headers, body = get(server.url(), "/_shardstream/health")
        assert status == 200 and headers["Content-Type"] == "application/json"
        health = json.loads(body)
        assert health == {
            "status": "ok",
            "version": shardstream.__version__,
            "model_version": health["model_version"],  # None until the vendored model exists
            "regions": ["eu-west-1"],
            "streams": 0,
        }
        kinesis = boto3_client(server.url(), region="eu-west-1")
        kinesis.create_stream(StreamName="a", ShardCount=1)
        kinesis.create_stream(StreamName="b", ShardCount=1)
        assert json.loads(get(server.url(), "/_shardstream/health")[2])["streams"] == 2
        server.interrupt()


def test_access_log_to_stderr_and_log_level():
    with ServeProcess("--access-log", "--log-level", "info") as server:
        boto3_client(server.url()).list_streams()
        get(server.url(), "/_shardstream/health")
        _, err = server.interrupt()
    assert server.proc.returncode == 0
    assert '"POST / HTTP/1.1" 200' in err and '"Kinesis_20131202.ListStreams"' in err
    assert '"GET /_shardstream/health HTTP/1.1" 200' in err


def test_access_log_to_a_file_and_off_by_default(tmp_path):
    log = tmp_path / "access.log"
    with ServeProcess("--access-log", str(log)) as server:
        boto3_client(server.url()).list_streams()
        _, err = server.interrupt()
    assert server.proc.returncode == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and '"Kinesis_20131202.ListStreams"' in lines[0] and " 200 " in lines[0]
    assert "ListStreams" not in err
    with ServeProcess() as server:  # no access log unless asked for
        boto3_client(server.url()).list_streams()
        _, err = server.interrupt()
    assert "ListStreams" not in err and "HTTP/1.1" not in err


def test_bad_log_level_and_unwritable_access_log_are_refused(tmp_path):
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "shardstream", "serve", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--log-level" in out.stderr
    # an unwritable access-log path is a usage error, not a traceback
    out = subprocess.run(
        [sys.executable, "-m", "shardstream", "serve", "--access-log", str(tmp_path / "no" / "such" / "dir.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "--access-log" in out.stderr and "Traceback" not in out.stderr


def test_region_flags(tmp_path):
    from botocore.exceptions import ClientError

    with ServeProcess("--data-dir", str(tmp_path), "--regions", "eu-west-1, eu-west-2", "--max-regions", "2") as server:
        assert boto3_client(server.url(), region="eu-west-1").list_streams()["StreamNames"] == []
        for region, text in [("ap-south-1", "serves only eu-west-1, eu-west-2, us-east-1"), ("eu-west-2", "at most 2")]:
            with pytest.raises(ClientError) as err:
                boto3_client(server.url(), region=region).list_streams()
            assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
            assert text in err.value.response["Error"]["Message"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["eu-west-1", "us-east-1"]
        out, _ = server.interrupt()
        assert "(region us-east-1 and eu-west-1, eu-west-2, account" in out


def test_json_logs_one_object_a_line():
    with ServeProcess("--access-log", "--log-level", "info", "--log-format", "json") as server:
        boto3_client(server.url()).list_streams()
        get(server.url(), "/_shardstream/health")
        _, err = server.interrupt()
    assert server.proc.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if "status" in line]
    assert {(a["method"], a["path"], a["status"], a["target"]) for a in access} >= {
        ("POST", "/", 200, "Kinesis_20131202.ListStreams"),
        ("GET", "/_shardstream/health", 200, None),
    }
    assert all(a["seconds"] >= 0 and a["time"].endswith("+00:00") for a in access)
    assert all(not line.strip() or line.startswith("{") for line in err.splitlines()), err  # nothing but JSON
