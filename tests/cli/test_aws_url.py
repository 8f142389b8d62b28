"""``--url aws://region`` with ``AWS_ENDPOINT_URL_KINESIS`` at moto's server (the stand-in for AWS)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from shardstream.cli import main


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_create_put_tail_delete_on_aws(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SHARDSTREAM_URL", "aws://us-east-1")
    runner = CliRunner()

    def cli(*args, input=None):
        result = runner.invoke(main, list(args), input=input)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    cli("create", "clicks", "--shards", "2", "--wait")
    assert "clicks" in cli("list").stdout.split()
    cli(
        "put",
        "clicks",
        "--key-field",
        "user",
        input="".join(json.dumps({"user": f"u{i % 3}", "n": i}) + "\n" for i in range(30)),
    )
    records = [json.loads(line) for line in cli("tail", "clicks").stdout.splitlines()]
    assert sorted(json.loads(r["data"])["n"] for r in records) == list(range(30))
    missing = runner.invoke(main, ["describe", "nope"])
    assert missing.exit_code == 1 and len(missing.stderr.splitlines()) == 1 and "nope" in missing.stderr
    cli("delete", "clicks", "--yes")
