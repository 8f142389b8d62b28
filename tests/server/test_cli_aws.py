"""The real AWS CLI (``aws kinesis ...``) against a live shardstream server.

The CLI is the one the ``test`` extra installs (awscli) into this environment, found next to
this Python, not whatever ``aws`` is first on PATH. If it is missing the test skips, which
under CI is a failure (tests/conftest.py).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sysconfig

import pytest

SCRIPTS = sysconfig.get_path("scripts")
AWS = shutil.which("aws", path=SCRIPTS)


@functools.lru_cache(maxsize=1)
def _cli_major() -> int:
    out = subprocess.run([AWS, "--version"], capture_output=True, text=True, timeout=60)
    text = (out.stdout or out.stderr).strip()  # "aws-cli/1.45.11 Python/..." or "aws-cli/2.x ..."
    return int(text.split("/", 1)[1].split(".", 1)[0]) if text.startswith("aws-cli/") else 2


def aws(url: str, *args: str) -> dict | None:
    if AWS is None:
        pytest.skip(f"the AWS CLI is not installed in {SCRIPTS} (pip install -e '.[test]' installs awscli)")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    # --no-cli-pager and --cli-binary-format exist only in CLI v2 (v1 has no pager, and sends blob text raw)
    v2 = ["--no-cli-pager", "--cli-binary-format", "raw-in-base64-out"] if _cli_major() >= 2 else []
    proc = subprocess.run(
        [AWS, "--endpoint-url", url, *v2, "--output", "json", "kinesis", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def test_aws_cli_round_trip(server):
    assert aws(server.url, "create-stream", "--stream-name", "cli", "--shard-count", "2") is None
    summary = aws(server.url, "describe-stream-summary", "--stream-name", "cli")["StreamDescriptionSummary"]
    assert summary["StreamName"] == "cli" and summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == 2
    # the CLI base64-encodes the text argument itself: the record holds the bytes of the text
    put = aws(server.url, "put-record", "--stream-name", "cli", "--partition-key", "k", "--data", "hello cli")
    assert put["ShardId"].startswith("shardId-") and put["SequenceNumber"].isdigit()
    assert aws(server.url, "list-streams")["StreamNames"] == ["cli"]
    stream = server.engine.stream("cli")
    page = stream.get_records(stream.get_shard_iterator(put["ShardId"], "TRIM_HORIZON")["ShardIterator"])
    assert page["Records"][0]["Data"] == b"hello cli"
