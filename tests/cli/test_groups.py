"""``shardstream groups list | describe | reset`` on an SQLite lease file, against a served engine: the
output, a reset refused while a worker holds the leases, a dead worker's leases moved, and a new
Consumer resuming where each kind of reset told it to."""

from __future__ import annotations

import time
import uuid

import pytest
from click.testing import CliRunner

import shardstream
from shardstream.cli import main
from shardstream.consumer import Consumer, RecordProcessor, SQLiteLeaseStore
from shardstream.groups_cli import shard_lag
from shardstream.testing import start_server

FAILOVER = 300


@pytest.fixture
def setup(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("orders", shard_count=2)
    server = start_server(engine)
    yield stream, server.url, tmp_path / "leases.db"
    server.stop()


def cli(url, leases, *args, code=0):
    result = CliRunner().invoke(main, ["groups", *args, "--leases", str(leases), *(["--url", url] if url else [])])
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def put(stream, n, tag):
    table = stream.put_batch([f"{tag}{i}" for i in range(n)], [f"{tag}{i}".encode() for i in range(n)])
    return table.column("sequence_number").to_pylist()


class Collect(RecordProcessor):
    def __init__(self, seen):
        self.seen = seen

    def process(self, records, checkpointer, millis_behind_latest):
        self.seen.extend(records.column("sequence_number").to_pylist())
        checkpointer.checkpoint()


def consume(stream, leases, group, want: set, timeout=10) -> list:
    """Run a worker of ``group`` until it has seen ``want``; what it saw (it stops gracefully)."""
    seen: list = []
    consumer = Consumer(stream, group, lambda: Collect(seen), leases=leases, failover_ms=FAILOVER, idle_ms=20)
    with consumer:
        assert consumer.wait_until(lambda: want <= set(seen), timeout=timeout), (len(seen), len(want))
        assert consumer.wait_until(lambda: len(consumer.lag()) == 2, timeout=timeout)
    return seen


def test_list_and_describe(setup):
    stream, url, leases = setup
    written = put(stream, 20, "a")
    consume(stream, leases, "billing", set(written))
    running = Consumer(stream, "audit", lambda: Collect([]), leases=leases, failover_ms=FAILOVER, worker_id="w-audit")
    with running:
        assert running.wait_until(lambda: len(running.held_shards) == 2)
        listed = cli(None, leases, "list").stdout.splitlines()
        assert [line.split() for line in listed] == [
            ["GROUP", "SHARDS", "OWNED", "WORKERS"],
            ["audit", "2", "2", "1"],
            ["billing", "2", "0", "0"],
        ]
        rows = [
            line.split() for line in cli(url, leases, "describe", "billing", "--stream", "orders").stdout.splitlines()
        ]
        assert rows[0] == ["SHARD", "OWNER", "CHECKPOINT", "SUB", "MILLIS_BEHIND", "RECORDS_BEHIND"]
        last = {lease.lease_key: lease.checkpoint for lease in SQLiteLeaseStore(leases, "billing").list()}
        assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows[1:]] == [(k, "-", v, "0", "0") for k, v in last.items()]
        assert set(last.values()) <= set(written)
        rows = cli(url, leases, "describe", "audit", "--stream", "orders").stdout.splitlines()[1:]
        assert {line.split()[1] for line in rows} == {"w-audit"}
    missing = cli(url, leases, "describe", "nobody", "--stream", "orders", code=1)
    assert "group nobody has no leases" in missing.stderr
    assert "no lease file" in cli(None, leases.with_name("x.db"), "list", code=1).stderr


def test_records_behind_on_an_embedded_stream(setup):
    stream, _, leases = setup
    written = put(stream, 10, "a")
    consume(stream, leases, "billing", set(written))
    more = put(stream, 7, "b")
    behind = [shard_lag(stream, lease)[1] for lease in SQLiteLeaseStore(leases, "billing").list()]
    assert sum(int(b) for b in behind) == len(more)


def test_reset_is_refused_while_a_worker_holds_the_leases_and_allowed_for_a_dead_one(setup):
    stream, url, leases = setup
    written = put(stream, 10, "a")
    consume(stream, leases, "billing", set(written))
    store = SQLiteLeaseStore(leases, "billing")
    before = {lease.lease_key: lease.checkpoint for lease in store.list()}
    with Consumer(stream, "billing", lambda: Collect([]), leases=leases, failover_ms=FAILOVER) as running:
        assert running.wait_until(lambda: len(running.held_shards) == 2)
        args = ("reset", "billing", "--to", "trim_horizon", "--stream", "orders", "--failover-ms", str(FAILOVER))
        refused = cli(url, leases, *args, code=1)
        assert "group billing is in use" in refused.stderr and "stop its workers first" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert {lease.lease_key: lease.checkpoint for lease in store.list()} == before
    # a worker that died holding a lease: owner set, counter still - the reset waits failover_ms and moves it
    lease = store.list()[0]
    assert store.take(lease.lease_key, lease.counter, "ghost") is not None
    assert "TRIM_HORIZON" in cli(url, leases, *args).stdout
    assert all(lease.owner is None and lease.checkpoint == "TRIM_HORIZON" for lease in store.list())


def test_reset_then_a_new_consumer_resumes_where_told(setup):
    stream, url, leases = setup
    first = put(stream, 10, "a")
    consume(stream, leases, "billing", set(first))
    common = ("--stream", "orders", "--failover-ms", str(FAILOVER))

    # trim_horizon: everything again
    cli(url, leases, "reset", "billing", "--to", "trim_horizon", *common)
    assert sorted(consume(stream, leases, "billing", set(first))) == sorted(first)

    # timestamp: from the first record at or after it
    time.sleep(0.01)  # the next batch arrives in a later millisecond than the first
    second = put(stream, 10, "b")
    arrival = stream.get_records(
        stream.get_shard_iterator(
            "shardId-000000000000",
            "AT_SEQUENCE_NUMBER",
            min((s for s in second if shardstream.sequence.parse_sequence_number(s).shard_index == 0), key=int),
        )["ShardIterator"],
        1,
    )["Records"][0]["ApproximateArrivalTimestamp"]
    consume(stream, leases, "billing", set(second))
    cli(url, leases, "reset", "billing", "--to", "timestamp", "--timestamp", arrival.isoformat(), *common)
    assert sorted(consume(stream, leases, "billing", set(second))) == sorted(second)

    # sequence: one shard from that record on; the other shard stays where it was
    on0 = sorted((s for s in first + second if shardstream.sequence.parse_sequence_number(s).shard_index == 0), key=int)
    out = cli(
        url,
        leases,
        "reset",
        "billing",
        "--to",
        "sequence",
        "--shard",
        "shardId-000000000000",
        "--sequence-number",
        on0[3],
        *common,
    ).stdout
    assert out.split() == ["shardId-000000000000", on0[3], "-1"]
    assert sorted(consume(stream, leases, "billing", set(on0[3:]))) == on0[3:]

    # latest: only what is written after the new worker started reading
    cli(url, leases, "reset", "billing", "--to", "latest", *common)
    seen: list = []
    consumer = Consumer(stream, "billing", lambda: Collect(seen), leases=leases, failover_ms=FAILOVER, idle_ms=20)
    with consumer:
        assert consumer.wait_until(lambda: len(consumer.lag()) == 2)
        third = put(stream, 10, "c")
        assert consumer.wait_until(lambda: set(third) <= set(seen))
    assert sorted(seen) == sorted(third)


def test_reset_arguments(setup):
    stream, url, leases = setup
    put(stream, 2, "a")
    consume(stream, leases, "billing", set())
    common = ("--stream", "orders")
    assert "needs --timestamp" in cli(url, leases, "reset", "billing", "--to", "timestamp", *common, code=2).stderr
    assert "needs --sequence-number" in cli(url, leases, "reset", "billing", "--to", "sequence", *common, code=2).stderr
    bad = cli(url, leases, "reset", "billing", "--to", "timestamp", "--timestamp", "yesterday", *common, code=2)
    assert "not an ISO 8601 time" in bad.stderr
    other = cli(
        url,
        leases,
        "reset",
        "billing",
        "--to",
        "sequence",
        "--shard",
        "shardId-000000000009",
        "--sequence-number",
        "1",
        *common,
        code=1,
    )
    assert "no lease for shard shardId-000000000009" in other.stderr


def test_a_dynamodb_table_is_one_group(setup, monkeypatch):
    from moto_process import SerialMoto

    from shardstream.consumer import DynamoDBLeaseStore, Lease

    stream, url, _ = setup
    table, nobody = f"leases-{uuid.uuid4().hex[:8]}", f"nobody-{uuid.uuid4().hex[:8]}"  # moto's state is global
    with SerialMoto() as moto:
        for name, value in {
            "AWS_ENDPOINT_URL_DYNAMODB": moto.url,
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        store = DynamoDBLeaseStore(table)
        for shard in ("shardId-000000000000", "shardId-000000000001"):
            store.create_if_absent(Lease(shard))
        lease = store.get("shardId-000000000000")
        store.take(lease.lease_key, lease.counter, "w1")
        listed = [line.split() for line in cli(None, f"dynamodb://{table}", "list").stdout.splitlines()]
        assert listed[1:] == [[table, "2", "1", "1"]]
        rows = cli(url, f"dynamodb://{table}", "describe", "billing", "--stream", "orders").stdout.splitlines()
        assert [line.split()[:3] for line in rows[1:]] == [
            ["shardId-000000000000", "w1", "TRIM_HORIZON"],
            ["shardId-000000000001", "-", "TRIM_HORIZON"],
        ]
        # the dead w1 never renews: the reset waits failover_ms, then moves and frees both leases
        args = ("reset", "billing", "--to", "latest", "--stream", "orders", "--failover-ms", "200")
        cli(url, f"dynamodb://{table}", *args)
        assert [(x.owner, x.checkpoint) for x in store.list()] == [(None, "LATEST"), (None, "LATEST")]
        # a group with no table: an error, and no table made
        missing = cli(url, "dynamodb://", "describe", nobody, "--stream", "orders", code=1)
        assert nobody in missing.stderr and "not found" in missing.stderr
        assert nobody not in store.client.list_tables()["TableNames"]
        store.close()
