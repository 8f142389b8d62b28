"""``shardstream kcl``: the KCL MultiLangDaemon protocol, against the real ``amazon_kclpy`` package.

amazon_kclpy's installer downloads Java jars, so it is not in the test extra (nor is Java needed:
``shardstream kcl`` is the daemon here): a session fixture takes its pure-Python modules and its
sample processor from the source distribution (``pip download``-ed once into a cache directory) and
the child processes find them through PYTHONPATH. If the download fails the tests that need it
skip, which under CI is a failure (tests/conftest.py).
"""

from __future__ import annotations

import base64
import collections
import datetime
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import shardstream
from shardstream.aggregation import AggregateBuilder
from shardstream.consumer import Checkpointer, Consumer, SQLiteLeaseStore
from shardstream.kcl import (
    KclConfig,
    MultiLangError,
    MultiLangProcessor,
    checkpoint_error_name,
    parse_properties,
    record_message,
    split_command,
)
from shardstream.kcl_cli import kcl as kcl_command
from shardstream.testing import start_server

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX child processes and signals")

FIXTURES = Path(__file__).with_name("kcl_fixtures")
RECORDER = FIXTURES / "recording_processor.py"
LEGACY = FIXTURES / "legacy_processor.py"
BROKEN = FIXTURES / "broken_processor.py"
SHARD = "shardId-000000000000"
SEQ_BASE = "4917957459120000000000691540000000000000000000000000"  # 52 digits; + 4 = a 56-digit number


# -- amazon_kclpy from its source distribution ---------------------------------------------------------


def _cache_dir() -> Path:
    root = os.environ.get("SHARDSTREAM_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "shardstream-tests"
    )
    return Path(root) / "amazon_kclpy"


def _sdist() -> Path:
    cache = _cache_dir()
    found = sorted(cache.glob("amazon_kclpy-*.tar.gz"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "amazon_kclpy",
             "-d", str(cache), "--quiet"],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot download the amazon_kclpy source distribution: {exc}")
    found = sorted(cache.glob("amazon_kclpy-*.tar.gz"))
    if result.returncode != 0 or not found:
        pytest.skip(f"cannot download the amazon_kclpy source distribution (pip said: {result.stderr.strip()[-500:]})")
    return found[-1]


class Kclpy:
    """amazon_kclpy's modules (``lib``, for PYTHONPATH) and samples (``samples``), extracted."""

    def __init__(self, root: Path, version: str):
        self.lib = root / "lib"
        self.samples = root / "samples"
        self.version = version

    @property
    def sample_app(self) -> Path:
        return self.samples / "sample_kclpy_app.py"

    def env(self) -> dict:
        path = os.pathsep.join(p for p in (str(self.lib), os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def kclpy(tmp_path_factory) -> Kclpy:
    sdist = _sdist()
    root = tmp_path_factory.mktemp("kclpy")
    (root / "lib").mkdir()
    (root / "samples").mkdir()
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) < 3 or not member.isfile():
                continue
            if parts[1] == "amazon_kclpy" and parts[-1].endswith(".py"):
                target = root / "lib" / Path(*parts[1:])
            elif parts[1] == "samples" and parts[2] in ("sample_kclpy_app.py", "sample.properties"):
                target = root / "samples" / parts[2]
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    if (
        not (root / "lib" / "amazon_kclpy" / "kcl.py").exists()
        or not (root / "samples" / "sample_kclpy_app.py").exists()
    ):
        pytest.fail(f"{sdist.name} does not have the expected amazon_kclpy/ and samples/ layout")
    return Kclpy(root, sdist.name[len("amazon_kclpy-") : -len(".tar.gz")])


# -- helpers ------------------------------------------------------------------------------------------


def make_records(n: int, start: int = 0, key: str = "k") -> list[dict]:
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    return [
        {
            "SequenceNumber": f"{SEQ_BASE}{i:04d}",
            "ApproximateArrivalTimestamp": when + datetime.timedelta(milliseconds=i),
            "Data": f"record-{i}".encode(),
            "PartitionKey": f"{key}{i}",
        }
        for i in range(start, start + n)
    ]


class FakeLeaseTable:
    """A Checkpointer's ``save``: records checkpoints; ``lost = True`` makes them fail as a lost lease does."""

    def __init__(self):
        self.saved: list[tuple[str, int]] = []
        self.lost = False

    def __call__(self, checkpoint: str, sub: int) -> bool:
        if self.lost:
            return False
        self.saved.append((checkpoint, sub))
        return True


def checkpointer_for(records, table: FakeLeaseTable, last="TRIM_HORIZON") -> Checkpointer:
    checkpointer = Checkpointer(SHARD, table, last)
    checkpointer.delivered(records[-1]["SequenceNumber"])  # what the Consumer does before process()
    return checkpointer


def config_for(*command, timeout=None) -> KclConfig:
    return KclConfig(
        executable_name=" ".join(str(c) for c in command),
        application_name="app",
        stream_name="s",
        timeout_in_seconds=timeout,
    )


class Lines:
    """A file-like sink for the child's forwarded stderr."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the daemon exited ({proc.returncode}) while waiting for {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- .properties parsing and configuration ------------------------------------------------------------


def test_properties_follow_java_rules():
    text = (
        "# a comment\r\n"
        "   ! another comment \\\n"
        "plain=value\n"
        "colon: with colon\n"
        "spaces   separated value  \n"
        "\tindented = x\n"
        "continued = one, \\\n"
        "            two, \\\n"
        "    three\n"
        "escaped\\=key = a\\tb\\u00e9\\\\c\n"
        "empty =\n"
        "only_key\n"
        "dup = first\n"
        "dup = second\n"
        "# continued = not a continuation \\\n"
        "after = comment\n"
        "eof = trailing \\"
    )
    assert parse_properties(text) == {
        "plain": "value",
        "colon": "with colon",
        "spaces": "separated value  ",  # java keeps trailing blanks of values
        "indented": "x",
        "continued": "one, two, three",
        "escaped=key": "a\tbé\\c",
        "empty": "",
        "only_key": "",
        "dup": "second",
        "after": "comment",
        "eof": "trailing ",
    }
    with pytest.raises(ValueError, match="Malformed"):
        parse_properties("bad = \\u12")


def test_the_sample_properties_file(kclpy):
    config = KclConfig.from_properties(kclpy.samples / "sample.properties")
    # streamArn wins over streamName (both name kclpysample in the sample)
    assert config.stream_name == "kclpysample"
    assert config.application_name == "PythonKCLSample"
    assert config.executable_name == "sample_kclpy_app.py"
    assert config.initial_position == "TRIM_HORIZON"
    assert config.region_name == "us-east-1"
    assert config.processing_language.startswith("python/")
    assert (config.max_records, config.idle_time_between_reads_ms, config.failover_time_ms) == (10_000, 1_500, 10_000)
    assert config.endpoint == "http://127.0.0.1:4567"
    assert config.lease_file == str(kclpy.samples / "PythonKCLSample.leases.db")
    assert config.properties["AwsCredentialsProvider"] == "DefaultCredentialsProvider"
    # a bare executableName that is not on PATH is found next to the properties file
    assert config.resolved_command() == [str(kclpy.samples / "sample_kclpy_app.py")]


def test_configuration_keys_and_errors(tmp_path):
    base = {"executableName": "python3  app.py  -v", "streamName": "orders", "applicationName": "billing"}
    config = KclConfig.from_dict(base, base_dir=tmp_path)
    assert config.command == ["python3", "app.py", "-v"]
    assert config.initial_position == "LATEST"  # the KCL's default
    assert config.consumer_kwargs() == {
        "group": "billing",
        "worker_id": None,
        "leases": str(tmp_path / "billing.leases.db"),
        "initial_position": "LATEST",
        "timestamp": None,
        "record_format": "dicts",
        "failover_ms": 10_000,
        "idle_ms": 1_500,
        "max_records": 10_000,
    }

    config = KclConfig.from_dict(
        {
            **base,
            "initialPositionInStream": "trim_horizon",
            "initialPositionInStreamExtended": "1700000000",
            "maxRecords": "500",
            "idleTimeBetweenReadsInMillis": "250",
            "failoverTimeMillis": "3000",
            "workerId": "w1",
            "timeoutInSeconds": "2.5",
            "kinesisEndpoint": "http://localhost:4566",
            "shardstreamLeaseFile": "state/leases.db",
            "metricsLevel": "NONE",
        },
        base_dir=tmp_path,
    )
    assert config.initial_position == "AT_TIMESTAMP"
    assert config.initial_timestamp == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)
    assert (config.max_records, config.idle_time_between_reads_ms, config.failover_time_ms) == (500, 250, 3000)
    assert (config.worker_id, config.timeout_in_seconds) == ("w1", 2.5)
    assert config.endpoint == "http://localhost:4566"
    assert config.lease_file == str(tmp_path / "state" / "leases.db")
    in_dynamodb = KclConfig.from_dict({**base, "shardstreamLeaseFile": "dynamodb://app-leases"}, base_dir=tmp_path)
    assert in_dynamodb.lease_file == "dynamodb://app-leases"  # a URL is not a path next to the properties
    assert KclConfig.from_dict({**base, "shardstreamEndpoint": "http://h:1", "kinesisEndpoint": "x"}).endpoint == (
        "http://h:1"
    )

    for props, message in [
        ({k: v for k, v in base.items() if k != "executableName"}, "Must provide an executable name"),
        ({k: v for k, v in base.items() if k != "applicationName"}, "Application name is required"),
        ({k: v for k, v in base.items() if k != "streamName"}, "Stream name or Stream Arn is required"),
        ({**base, "streamArn": "arn:aws:s3:::bucket"}, "not a Kinesis stream ARN"),
        ({**base, "initialPositionInStream": "EARLIEST"}, "must be one of"),
        ({**base, "initialPositionInStream": "AT_TIMESTAMP"}, "needs initialPositionInStreamExtended"),
        ({**base, "initialPositionInStreamExtended": "yesterday"}, "epoch seconds"),
        ({**base, "maxRecords": "many"}, "maxRecords must be an integer"),
        ({**base, "maxRecords": "0"}, "at least 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            KclConfig.from_dict(props)


def test_messages_and_error_names():
    (record,) = make_records(1)
    assert record_message(record) == {
        "data": base64.b64encode(b"record-0").decode(),
        "partitionKey": "k0",
        "sequenceNumber": f"{SEQ_BASE}0000",
        "approximateArrivalTimestamp": 1714564800000,
        "subSequenceNumber": 0,
        "action": "record",
    }
    assert record_message({**record, "ApproximateArrivalTimestamp": 1714564800.5})["approximateArrivalTimestamp"] == (
        1714564800500
    )
    assert split_command("  a   b ") == ["a", "b"]
    from shardstream.consumer import InvalidCheckpointError, LeaseLostError

    assert checkpoint_error_name(LeaseLostError()) == "ShutdownException"
    assert checkpoint_error_name(InvalidCheckpointError()) == "IllegalArgumentException"
    assert checkpoint_error_name(RuntimeError()) == "KinesisClientLibDependencyException"


# -- the protocol against child processes (no Consumer) -----------------------------------------------


def test_sample_processor_round_trip_to_shard_end(kclpy):
    """amazon_kclpy's own sample: initialize, a batch (it checkpoints the largest record), shard end."""
    records = make_records(5)
    table = FakeLeaseTable()
    stderr = Lines()
    processor = MultiLangProcessor(config_for(sys.executable, kclpy.sample_app), env=kclpy.env(), stderr=stderr)
    processor.initialize(SHARD, "TRIM_HORIZON")
    assert processor.state == "active"
    checkpointer = checkpointer_for(records, table)
    processor.process(records, checkpointer, 1234)
    # the sample checkpoints str(largest sequence number) with its sub-sequence number on its first batch
    assert table.saved == [(records[-1]["SequenceNumber"], 0)]
    checkpointer.at_shard_end = True  # as the Consumer does before shard_ended
    processor.shard_ended(checkpointer)
    assert table.saved[-1] == ("SHARD_END", 0)
    assert processor.state == "shutdown"
    assert processor.returncode == 0
    # the sample logs every record to stderr (without newlines); the daemon copies its stderr to ours
    assert stderr.text.count("Record (Partition Key: k") == 5
    assert "Shard has ended checkpointing" in stderr.text


def test_sample_processor_graceful_shutdown_and_refused_checkpoint(kclpy, caplog):
    """shutdownRequested lets the sample checkpoint, then leaseLost (as KCL 2/3 send) ends it.

    A checkpoint after the lease was lost is refused with ShutdownException: the sample prints
    "Encountered shutdown exception" on its stdout, a line the daemon skips.
    """
    caplog.set_level(logging.INFO, logger="shardstream.kcl")
    records = make_records(3)
    table = FakeLeaseTable()
    stderr = Lines()
    processor = MultiLangProcessor(config_for(sys.executable, kclpy.sample_app), env=kclpy.env(), stderr=stderr)
    processor.initialize(SHARD, f"{SEQ_BASE}0000")
    table.lost = True
    processor.process(records, checkpointer_for(records, table, last=f"{SEQ_BASE}0000"), 0)
    assert table.saved == []
    assert any(
        "Skipping unexpected line" in r.message and "Encountered shutdown exception" in r.message
        for r in caplog.records
    )
    table.lost = False
    processor.shutdown_requested(checkpointer_for(records, table, last=f"{SEQ_BASE}0000"))
    assert table.saved == [(records[-1]["SequenceNumber"], 0)]
    assert processor.state == "shutdown" and processor.returncode == 0
    assert "Shutdown has been requested, checkpointing." in stderr.text
    assert "Lease has been lost" in stderr.text


def test_checkpoint_answers_name_the_kcl_exceptions(kclpy, tmp_path):
    out = tmp_path / "events.jsonl"
    records = make_records(4)
    table = FakeLeaseTable()
    stderr = Lines()
    processor = MultiLangProcessor(config_for(sys.executable, RECORDER, out, "probe"), env=kclpy.env(), stderr=stderr)
    processor.initialize(SHARD, "TRIM_HORIZON")
    processor.process(records, checkpointer_for(records, table), 7)
    processor.lease_lost()
    assert processor.returncode == 0

    log = events(out)
    assert log[0] == {
        "event": "initialize",
        "shard": SHARD,
        "pid": processor.pid,
        "sequenceNumber": "TRIM_HORIZON",
        "subSequenceNumber": 0,
    }
    seen = [e for e in log if e["event"] == "record"]
    assert [(e["sequenceNumber"], e["subSequenceNumber"], e["partitionKey"], e["data"]) for e in seen] == [
        (r["SequenceNumber"], 0, r["PartitionKey"], r["Data"].decode()) for r in records
    ]
    assert seen[0]["timestampMillis"] == 1714564800000
    assert [e for e in log if e["event"] == "batch"][0]["millisBehindLatest"] == 7
    answers = {e["label"]: e["error"] for e in log if e["event"] == "checkpoint"}
    assert answers == {
        "beyond": "IllegalArgumentException",  # after the last record delivered
        "negative-sub": "IllegalArgumentException",
        "garbage": "IllegalArgumentException",
        "first": None,
        "last": None,
        "backwards": "IllegalArgumentException",  # below the previous checkpoint
        "default": None,
        "after-lease-lost": "InvalidStateException",  # no checkpointer during leaseLost
    }
    first, last = records[0]["SequenceNumber"], records[-1]["SequenceNumber"]
    assert table.saved == [(first, 0), (last, 0), (last, 0)]
    assert f"recording processor for {SHARD} started" in stderr.text


def test_legacy_v1_processor_gets_terminate_and_zombie(kclpy, tmp_path):
    out = tmp_path / "events.jsonl"
    records = make_records(2)
    for shard_end in (True, False):
        table = FakeLeaseTable()
        processor = MultiLangProcessor(config_for(sys.executable, LEGACY, out), env=kclpy.env(), stderr=Lines())
        processor.initialize(SHARD, "LATEST")
        checkpointer = checkpointer_for(records, table)
        processor.process(records, checkpointer, 0)
        if shard_end:
            checkpointer.at_shard_end = True
            processor.shard_ended(checkpointer)
        else:
            processor.lease_lost()
        assert processor.returncode == 0
        assert table.saved[-1] == (("SHARD_END", 0) if shard_end else (records[-1]["SequenceNumber"], 0))
    assert [e.get("reason") for e in events(out) if e["event"] == "shutdown"] == ["TERMINATE", "ZOMBIE"]


def test_lines_that_are_not_protocol_messages_are_skipped(tmp_path):
    records = make_records(2)
    table = FakeLeaseTable()
    stderr = Lines()
    processor = MultiLangProcessor(config_for(sys.executable, BROKEN, "noisy"), stderr=stderr)
    processor.initialize(SHARD, "TRIM_HORIZON")
    processor.process(records, checkpointer_for(records, table), 0)
    assert table.saved == [(records[-1]["SequenceNumber"], 0)]
    checkpointer = checkpointer_for(records, table)
    checkpointer.at_shard_end = True
    processor.shard_ended(checkpointer)  # waits for the child's exit and the end of its output
    assert processor.returncode == 0
    answer = json.loads(stderr.text.split("checkpoint answer: ", 1)[1].splitlines()[0])
    assert answer == {"action": "checkpoint", "sequenceNumber": None, "subSequenceNumber": None, "error": None}


@pytest.mark.parametrize(
    ("mode", "timeout", "message"),
    [
        ("exit", None, r"Reached end of STDOUT .* \(it exited with status 3\) while waiting for the status message of "
                       r"processRecords"),
        ("wrong-status", None, "Received status for 'processRecords' .* while waiting for 'initialize'"),
        ("silent", 0.5, "Timed out after 0.5 s waiting for the status message of initialize"),
    ],
)  # fmt: skip
def test_a_child_that_breaks_the_protocol_fails_clearly_and_is_killed(mode, timeout, message):
    failures = []
    stderr = Lines()
    processor = MultiLangProcessor(
        config_for(sys.executable, BROKEN, mode, timeout=timeout), on_failure=failures.append, stderr=stderr
    )
    records = make_records(1)
    with pytest.raises(MultiLangError, match=message):
        processor.initialize(SHARD, "TRIM_HORIZON")
        processor.process(records, checkpointer_for(records, FakeLeaseTable()), 0)
    assert processor.state == "failed"
    assert processor.returncode is not None  # reaped: exited or killed
    assert len(failures) == 1
    with pytest.raises(MultiLangError, match="failed"):
        processor.process(records, checkpointer_for(records, FakeLeaseTable()), 0)
    processor.lease_lost()  # no child any more: nothing to do
    if mode == "exit":
        assert "broken processor exiting" in stderr.text


def test_an_executable_that_cannot_start(tmp_path):
    failures = []
    processor = MultiLangProcessor(config_for(tmp_path / "missing-processor"), on_failure=failures.append)
    with pytest.raises(MultiLangError, match="Failed to start client executable"):
        processor.initialize(SHARD, "TRIM_HORIZON")
    assert len(failures) == 1 and processor.state == "failed"


# -- KPL aggregates through the daemon ---------------------------------------------------------------


@pytest.mark.parametrize("record_format", ["dicts", "arrow"])
def test_the_child_gets_user_records_and_checkpoints_at_sub_sequence_granularity(kclpy, tmp_path, record_format):
    """processRecords carries each user record of an aggregate with its subSequenceNumber; the child's
    checkpoints keep it; a restart sends it in ``initialize`` and resumes after that user record."""
    stream = shardstream.Engine().create_stream("orders", shard_count=1)
    plain = stream.put_record(b"plain-0", "p")["SequenceNumber"]
    builder = AggregateBuilder()
    for i in range(5):
        assert builder.try_add(f"u{i}", f"agg-{i}".encode())
    key, _, data = builder.build()
    aggregate = stream.put_record(data, key)["SequenceNumber"]
    leases_file = tmp_path / "leases.db"

    def run(out: Path, count: int) -> None:
        config = config_for(sys.executable, RECORDER, out, "explicit")
        consumer = Consumer(
            stream,
            "KclTestApp",
            lambda: MultiLangProcessor(config, env=kclpy.env(), stderr=Lines()),
            record_format=record_format,
            leases=leases_file,
            failover_ms=300,
            idle_ms=20,
        )
        with consumer:
            until(lambda: len([e for e in events(out) if e["event"] == "record"]) >= count, 20, f"{count} records")

    def records(out: Path) -> list[tuple[str, int, str, str]]:
        return [
            (e["sequenceNumber"], e["subSequenceNumber"], e["partitionKey"], e["data"])
            for e in events(out)
            if e["event"] == "record"
        ]

    out1 = tmp_path / "run1.jsonl"
    run(out1, 6)
    assert records(out1) == [(plain, 0, "p", "plain-0")] + [(aggregate, i, f"u{i}", f"agg-{i}") for i in range(5)]
    initialize = [e for e in events(out1) if e["event"] == "initialize"]
    assert [(e["sequenceNumber"], e["subSequenceNumber"]) for e in initialize] == [("TRIM_HORIZON", 0)]
    store = SQLiteLeaseStore(leases_file, "KclTestApp")
    lease = store.get(SHARD)
    assert (lease.checkpoint, lease.checkpoint_sub_sequence_number) == (aggregate, 4)  # the child's explicit one

    # as if the child had checkpointed in the middle of the aggregate before its worker died
    lease = store.take(SHARD, lease.counter, "crashed")
    assert store.checkpoint(SHARD, "crashed", aggregate, 1) and store.release(SHARD, "crashed")
    after = stream.put_record(b"after", "q")["SequenceNumber"]
    out2 = tmp_path / "run2.jsonl"
    run(out2, 4)
    initialize = [e for e in events(out2) if e["event"] == "initialize"]
    assert [(e["sequenceNumber"], e["subSequenceNumber"]) for e in initialize] == [(aggregate, 1)]
    assert records(out2) == [(aggregate, i, f"u{i}", f"agg-{i}") for i in (2, 3, 4)] + [(after, 0, "q", "after")]
    lease = store.get(SHARD)
    assert (lease.checkpoint, lease.checkpoint_sub_sequence_number) == (after, 0)

    # `shardstream groups reset --to sequence` puts the checkpoint just before a record (sub-sequence -1):
    # the child hears that record's number with 0 (the protocol has no negative sub-sequence) and gets it again
    assert store.reset(SHARD, store.get(SHARD).counter, plain, -1)
    out3 = tmp_path / "run3.jsonl"
    run(out3, 7)
    initialize = [e for e in events(out3) if e["event"] == "initialize"]
    assert [(e["sequenceNumber"], e["subSequenceNumber"]) for e in initialize] == [(plain, 0)]
    assert records(out3)[:2] == [(plain, 0, "p", "plain-0"), (aggregate, 0, "u0", "agg-0")]
    store.close()


# -- shardstream kcl end to end -----------------------------------------------------------------------


def write_properties(path: Path, executable: str, url: str, **extra) -> Path:
    lines = [
        "# like amazon_kclpy's samples/sample.properties",
        f"executableName = {executable}",
        "streamName = orders",
        "applicationName = KclTestApp",
        "AwsCredentialsProvider = DefaultCredentialsProvider",
        "processingLanguage = python/3",
        "initialPositionInStream = TRIM_HORIZON",
        "regionName = us-east-1",
        "idleTimeBetweenReadsInMillis = 100",
        "failoverTimeMillis = 3000",
        f"shardstreamEndpoint: {url}",
        "shardstreamLeaseFile = leases.db",
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Daemon:
    """``python -m shardstream kcl --properties ...`` as a child process, its stderr in a file."""

    def __init__(self, properties: Path, env: dict, log: Path):
        self.log = log
        self._err = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shardstream", "kcl", "--properties", str(properties)],
            stdin=subprocess.DEVNULL,
            stdout=self._err,
            stderr=self._err,
            env=env,
        )

    def stop(self, sig=signal.SIGINT, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the daemon did not stop on {sig!r}:\n{self.output()}") from None
        finally:
            self._err.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def put(stream, keys) -> dict[str, tuple[str, str]]:
    """Put one record per key; sequence number -> (shard, data)."""
    written = {}
    for key in keys:
        response = stream.put_record(f"data-{key}".encode(), key)
        written[response["SequenceNumber"]] = (response["ShardId"], f"data-{key}")
    return written


def leases(path: Path) -> dict:
    store = SQLiteLeaseStore(path, "KclTestApp")
    try:
        return {lease.lease_key: lease for lease in store.list()}
    finally:
        store.close()


def test_kcl_command_processes_every_shard_and_resumes_after_its_checkpoints(kclpy, tmp_path):
    with start_server() as server:
        engine = shardstream.connect(server.url)
        engine.create_stream("orders", shard_count=2)
        stream = engine.stream("orders")
        stream.wait_active()
        written = put(stream, [f"a{i}" for i in range(30)])
        stream.split_shard(SHARD, str(2**126))  # shard 0 closes; children 2 and 3 follow it
        stream.wait_active()
        written.update(put(stream, [f"b{i}" for i in range(20)]))
        assert {shard for shard, _ in written.values()} == {f"shardId-00000000000{i}" for i in range(4)}

        out = tmp_path / "run1.jsonl"
        props = write_properties(tmp_path / "app.properties", f"{sys.executable} {RECORDER} {out}", server.url)
        daemon = Daemon(props, kclpy.env(), tmp_path / "daemon1.log")
        try:

            def seen(path):
                return {e["sequenceNumber"] for e in events(path) if e["event"] == "record"}

            until(lambda: seen(out) == set(written), 20, "every record", daemon.proc)
            written.update(put(stream, [f"c{i}" for i in range(10)]))  # while it runs
            until(lambda: seen(out) == set(written), 10, "the records written while it runs", daemon.proc)
        finally:
            code = daemon.stop()
        assert code == 0, daemon.output()

        log = events(out)
        by_shard = collections.defaultdict(list)
        for e in log:
            if e["event"] == "record":
                by_shard[e["shard"]].append(e["sequenceNumber"])
                assert written[e["sequenceNumber"]] == (e["shard"], e["data"])
        assert sum(len(v) for v in by_shard.values()) == len(written)  # each once
        for shard, seqs in by_shard.items():
            assert seqs == sorted(seqs, key=int), f"{shard} out of order"
        # the parent ended: shardEnded, checkpoint SHARD_END; its children started after that
        assert [e for e in log if e["event"] == "shard_ended"] == [
            {"event": "shard_ended", "shard": SHARD, "pid": e["pid"]} for e in log if e["event"] == "shard_ended"
        ]
        position = {e["shard"]: i for i, e in enumerate(log) if e["event"] == "initialize"}
        end = next(i for i, e in enumerate(log) if e["event"] == "shard_ended")
        assert position["shardId-000000000002"] > end and position["shardId-000000000003"] > end
        # graceful stop: shutdownRequested (checkpointing), then leaseLost, per open shard
        for shard in ("shardId-000000000001", "shardId-000000000002", "shardId-000000000003"):
            kinds = [
                e["event"] for e in log if e["shard"] == shard and e["event"] not in ("record", "batch", "checkpoint")
            ]
            assert kinds[0] == "initialize" and kinds[-2:] == ["shutdown_requested", "lease_lost"], kinds
        table = leases(tmp_path / "leases.db")  # relative shardstreamLeaseFile: next to the properties
        assert table[SHARD].checkpoint == "SHARD_END"
        for shard, seqs in by_shard.items():
            if shard != SHARD:
                assert table[shard].checkpoint == max(seqs, key=int)
        assert all(lease.owner is None for lease in table.values())  # released on the way out
        text = daemon.output()
        assert "recording processor for shardId-000000000001 started" in text  # child stderr, copied
        assert "Skipping unexpected line on STDOUT" in text  # its print() output

        # restart: only what came after the checkpoints is delivered
        checkpoints = {shard: lease.checkpoint for shard, lease in table.items()}
        newer = put(stream, [f"d{i}" for i in range(12)])
        out2 = tmp_path / "run2.jsonl"
        props2 = write_properties(
            tmp_path / "app.properties", f"{sys.executable} {RECORDER} {out2} explicit", server.url
        )
        daemon = Daemon(props2, kclpy.env(), tmp_path / "daemon2.log")
        try:
            until(lambda: seen(out2) == set(newer), 20, "the new records", daemon.proc)
            time.sleep(0.3)  # would anything else arrive?
        finally:
            code = daemon.stop(signal.SIGTERM)
        assert code == 0, daemon.output()
        log2 = events(out2)
        assert sorted(e["sequenceNumber"] for e in log2 if e["event"] == "record") == sorted(newer)
        starts = {e["shard"]: e["sequenceNumber"] for e in log2 if e["event"] == "initialize"}
        assert starts == {shard: cp for shard, cp in checkpoints.items() if shard != SHARD}
        table = leases(tmp_path / "leases.db")
        for shard in starts:
            mine = [s for s, (sh, _) in {**written, **newer}.items() if sh == shard]
            assert table[shard].checkpoint == max(mine, key=int)


def test_kcl_command_runs_the_amazon_kclpy_sample(kclpy, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(kclpy.samples, app)
    with start_server() as server:
        engine = shardstream.connect(server.url)
        engine.create_stream("orders", shard_count=2)
        stream = engine.stream("orders")
        stream.wait_active()
        written = put(stream, [f"k{i}" for i in range(20)])
        last = {}
        for seq, (shard, _) in written.items():
            last[shard] = max(last.get(shard, seq), seq, key=int)
        props = write_properties(app / "kcl.properties", f"{sys.executable} {app / 'sample_kclpy_app.py'}", server.url)
        daemon = Daemon(props, kclpy.env(), tmp_path / "daemon.log")
        try:

            def checkpointed():
                if not (app / "leases.db").exists():
                    return False
                table = leases(app / "leases.db")
                return all(shard in table and table[shard].checkpoint == seq for shard, seq in last.items())

            until(checkpointed, 20, "the sample's checkpoints", daemon.proc)
        finally:
            code = daemon.stop()
        text = daemon.output()
        assert code == 0, text
        assert text.count("Record (Partition Key: k") == 20
        assert text.count("Shutdown has been requested, checkpointing.") == 2
        assert text.count("Lease has been lost") == 2


def test_kcl_command_exits_when_a_child_breaks_the_protocol(tmp_path):
    with start_server() as server:
        engine = shardstream.connect(server.url)
        engine.create_stream("orders", shard_count=1)
        stream = engine.stream("orders")
        stream.wait_active()
        put(stream, ["x"])
        props = write_properties(tmp_path / "app.properties", f"{sys.executable} {BROKEN} exit", server.url)
        daemon = Daemon(props, dict(os.environ), tmp_path / "daemon.log")
        try:
            daemon.proc.wait(20)
        finally:
            code = daemon.stop()
        text = daemon.output()
        assert code == 1, text
        assert "exited with status 3" in text and "shardstream kcl:" in text


def test_kcl_command_reports_bad_configuration(tmp_path):
    runner = CliRunner()
    props = tmp_path / "bad.properties"
    props.write_text("streamName = orders\napplicationName = a\n")
    result = runner.invoke(kcl_command, ["--properties", str(props)])
    assert result.exit_code == 1 and "Must provide an executable name" in result.output

    props.write_text("executableName = true\nstreamName = orders\napplicationName = a\n")
    with start_server() as server:
        result = runner.invoke(kcl_command, ["-p", str(props), "--endpoint", server.url])
    assert result.exit_code == 1 and "cannot read stream 'orders'" in result.output
