"""Queues on durable streams: settings and delivery state survive restarts, crashes and SIGKILL.

An acknowledged record is never delivered again after a restart; a record in
flight becomes visible again; dead letters stay dead; the journal's torn tail
is cut; snapshots keep it short.  A hypothesis property holds the replayed
state to the live one after any sequence of calls.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from conftest import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_process import ServeProcess

from queues.helpers import make_queue, put
from shardstream import Engine
from shardstream.storage import queue_files
from shardstream.testing import boto3_client


def durable(tmp_path, clock=None, **kw):
    engine = Engine(data_dir=tmp_path / "data", clock=clock, **kw)
    names = engine.list_streams()["StreamNames"]
    stream = engine.stream("jobs") if "jobs" in names else engine.create_stream("jobs", stream_mode="ON_DEMAND")
    return engine, stream


def payloads(table) -> list:
    return sorted(table.column("data").to_pylist())


def test_settings_tags_and_state_survive_a_clean_restart(tmp_path):
    clock = FakeClock()
    engine, stream = durable(tmp_path, clock)
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=60)
    engine.tag_resource(arn, {"team": "ops"})
    data = put(stream, 50)
    queue = engine.queues.queue(arn)
    first = queue.receive_batch(20)
    queue.settle(first.column("receipt_handle").to_pylist()[:15], "ack")
    before = engine.describe_queue(arn)["QueueDescription"]
    engine.close()

    engine, stream = durable(tmp_path, clock)
    assert engine.describe_queue(arn)["QueueDescription"] == before
    assert engine.list_tags_for_resource(arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    queue = engine.queues.queue(arn)
    # the 5 in flight are visible again at once; the 15 acknowledged never come back
    rest = queue.receive_batch(100)
    acked = set(first.column("data").to_pylist()[:15])
    assert payloads(rest) == sorted(set(data) - acked)
    again = {r["data"]: r["receive_count"] for r in rest.to_pylist()}
    assert all(again[d] == 2 for d in first.column("data").to_pylist()[15:])
    engine.close()


def test_a_crash_keeps_every_acknowledgement_and_old_handles_still_work(tmp_path):
    engine, stream = durable(tmp_path)
    arn = make_queue(engine, stream)
    put(stream, 40)
    time.sleep(0.01)
    queue = engine.queues.queue(arn)
    got = queue.receive_batch(30)
    handles = got.column("receipt_handle").to_pylist()
    assert queue.settle(handles[:10], "ack").all()
    engine._crash()  # nothing closed, nothing synced beyond what each call did

    engine, stream = durable(tmp_path)
    queue = engine.queues.queue(arn)
    assert queue.state_size() == 20  # the 20 unacknowledged deliveries, visible again
    assert not queue.settle(handles[:10], "ack").any()  # acknowledged before: gone
    assert queue.settle(handles[10:12], "ack").all()  # not delivered again yet: the handle still names it
    rest = queue.receive_batch(100)
    assert rest.num_rows == 40 - 12
    assert not set(rest.column("data").to_pylist()) & set(got.column("data").to_pylist()[:12])
    assert not queue.settle(handles[12:], "ack").any()  # delivered again: the old handles stopped working
    engine.close()


def test_dead_letters_and_restores_survive(tmp_path):
    clock = FakeClock()
    engine, stream = durable(tmp_path, clock)
    arn = make_queue(engine, stream, DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1})
    put(stream, 6)
    queue = engine.queues.queue(arn)
    assert queue.receive_batch(10, visibility_s=1).num_rows == 6
    clock.advance(2_000)
    assert queue.receive_batch(10).num_rows == 0  # all six were received once: dead letters now
    dead = queue.receive_batch(10, dead=True)
    assert dead.num_rows == 6
    assert queue.settle(dead.column("receipt_handle").to_pylist()[:2], "restore", dead=True).all()
    assert queue.settle(dead.column("receipt_handle").to_pylist()[2:3], "ack", dead=True).all()
    engine._crash()

    engine, stream = durable(tmp_path, clock)
    queue = engine.queues.queue(arn)
    back = queue.receive_batch(10)
    assert payloads(back) == sorted(dead.column("data").to_pylist()[:2])
    assert back.column("receive_count").to_pylist() == [1, 1]  # restored: counted from zero
    assert payloads(queue.receive_batch(10, dead=True)) == sorted(dead.column("data").to_pylist()[3:])
    engine.close()


def test_a_torn_journal_tail_is_cut_and_the_rest_replayed(tmp_path):
    engine, stream = durable(tmp_path)
    arn = make_queue(engine, stream)
    put(stream, 20)
    queue = engine.queues.queue(arn)
    got = queue.receive_batch(20)
    queue.settle(got.column("receipt_handle").to_pylist()[:5], "ack")
    engine._crash()
    [folder] = queue_files.queues_dir(tmp_path / "data").iterdir()
    [journal] = folder.glob("journal.*")
    with open(journal, "ab") as f:  # half an entry, as a kill in the middle of a write leaves
        f.write(b"\x40\x00\x00\x00\x00\x00\x00\x00abc")

    engine, stream = durable(tmp_path)
    assert engine.queues.queue(arn).receive_batch(100).num_rows == 15
    engine.close()


def test_snapshots_keep_the_journal_short(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_files, "SNAPSHOT_AFTER_BYTES", 2_000)
    engine, stream = durable(tmp_path)
    arn = make_queue(engine, stream)
    put(stream, 3_000)
    queue = engine.queues.queue(arn)
    acked = set()
    for _ in range(30):
        got = queue.receive_batch(100)
        keep = got.column("data").to_pylist()
        queue.settle(got.column("receipt_handle").to_pylist()[:90], "ack")
        acked.update(keep[:90])
    [folder] = queue_files.queues_dir(tmp_path / "data").iterdir()
    files = sorted(p.name for p in folder.iterdir())
    assert len([f for f in files if f.startswith("journal.")]) == 1
    assert len([f for f in files if f.startswith("state.")]) == 1
    assert not files[0].startswith("journal.0000000000000000")  # rotated
    engine._crash()

    engine, stream = durable(tmp_path)
    queue = engine.queues.queue(arn)
    assert queue.state_size() == 300
    rest = queue.receive_batch(10_000)
    assert rest.num_rows == 3_000 - len(acked)
    assert not set(rest.column("data").to_pylist()) & acked
    engine.close()


def test_a_deleted_queue_leaves_nothing_behind(tmp_path):
    engine, stream = durable(tmp_path)
    arn = make_queue(engine, stream)
    root = queue_files.queues_dir(tmp_path / "data")
    assert len(list(root.iterdir())) == 1
    engine.delete_queue(arn)
    assert list(root.iterdir()) == []
    engine.close()
    engine, stream = durable(tmp_path)
    assert engine.list_queues()["QueueSummaries"] == []
    make_queue(engine, stream)  # the name is free again
    engine.close()


def test_queues_on_in_memory_engines_keep_nothing(tmp_path):
    engine = Engine()
    stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
    make_queue(engine, stream)
    assert not queue_files.queues_dir(tmp_path).exists()


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(1, 30)),
        st.tuples(st.just("receive"), st.integers(1, 40)),
        st.tuples(st.just("receive_dead"), st.integers(1, 10)),
        st.tuples(st.just("ack"), st.floats(0, 1)),
        st.tuples(st.just("ack_dead"), st.floats(0, 1)),
        st.tuples(st.just("restore"), st.floats(0, 1)),
        st.tuples(st.just("hide"), st.floats(0, 1)),
        st.tuples(st.just("time"), st.integers(0, 4_000)),
        st.tuples(st.just("restart"), st.booleans()),
    ),
    max_size=25,
)


def _state(queue) -> dict:
    """What must survive: per shard the frontier and, per table, counters, receive counts and nonces."""
    out = {}
    for index, doc in queue.state_doc().items():
        out[index] = (
            doc["frontier"],
            {part: (doc[part]["counter"], doc[part]["count"], doc[part]["nonce"]) for part in ("inflight", "dead")},
        )
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_replay_rebuilds_exactly_the_live_state(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("replay")
    clock = FakeClock()
    engine, stream = durable(path, clock)
    arn = make_queue(engine, stream, DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 2})
    rng = np.random.default_rng(len(ops))
    normal: list = []
    dead: list = []
    for op, arg in ops:
        queue = engine.queues.queue(arn)
        if op == "put":
            put(stream, arg, prefix=f"p{clock.now}-")
        elif op == "receive":
            normal = queue.receive_batch(arg, visibility_s=2).column("receipt_handle").to_pylist()
        elif op == "receive_dead":
            dead = queue.receive_batch(arg, visibility_s=2, dead=True).column("receipt_handle").to_pylist()
        elif op in ("ack", "hide"):
            some = [h for h in normal if rng.random() < arg]
            if some:
                queue.settle(some, "ack" if op == "ack" else "visibility", visibility_s=0)
        elif op in ("ack_dead", "restore"):
            some = [h for h in dead if rng.random() < arg]
            if some:
                queue.settle(some, "ack" if op == "ack_dead" else "restore", dead=True)
        elif op == "time":
            clock.advance(arg)
        else:
            live = _state(queue)
            if arg:
                engine.close()
            else:
                engine._crash()
            engine, stream = durable(path, clock)
            assert _state(engine.queues.queue(arn)) == live
            normal = dead = []
    live = _state(engine.queues.queue(arn))
    engine._crash()
    engine, stream = durable(path, clock)
    assert _state(engine.queues.queue(arn)) == live
    engine.close()


def test_a_sigkilled_server_never_redelivers_an_acknowledged_record(tmp_path):
    """Consumers ack through a real server that is SIGKILLed mid-flight; after a restart nothing acked returns."""
    data_dir = tmp_path / "data"
    with ServeProcess("--data-dir", str(data_dir)) as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="jobs", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        stream_arn = kinesis.describe_stream_summary(StreamName="jobs")["StreamDescriptionSummary"]["StreamARN"]
        config = [{"StreamARN": stream_arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        arn = kinesis.create_queue(QueueName="work", StreamConfigurationList=config)["QueueDescription"]["QueueARN"]
        written = set()
        for start in range(0, 2_000, 500):
            entries = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(start, start + 500)]
            assert kinesis.put_records(StreamName="jobs", Records=entries)["FailedRecordCount"] == 0
            written.update(e["Data"] for e in entries)
        acked: set = set()
        unanswered: set = set()
        stop = threading.Event()

        def consume():
            client = boto3_client(server.url())
            while not stop.is_set():
                try:
                    got = client.receive_queue_records(QueueARN=arn, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
                except Exception:  # the server died under us
                    return
                if not got:
                    continue
                try:
                    answer = client.acknowledge_queue_records(
                        QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in got]
                    )
                except Exception:  # killed during the ack: it may or may not have been applied
                    unanswered.update(r["Data"] for r in got)
                    return
                ok = {e["ReceiptHandle"] for e in answer["Successful"]}
                acked.update(r["Data"] for r in got if r["ReceiptHandle"] in ok)

        threads = [threading.Thread(target=consume) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 500 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL while the consumers are mid-call
        stop.set()
        for t in threads:
            t.join()
    assert 500 <= len(acked) < len(written)

    with ServeProcess("--data-dir", str(data_dir)) as server:
        kinesis = boto3_client(server.url())
        after = []
        while True:
            got = kinesis.receive_queue_records(QueueARN=arn, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
            if not got:
                break
            kinesis.acknowledge_queue_records(
                QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in got]
            )
            after.extend(r["Data"] for r in got)
    assert not set(after) & acked, "an acknowledged record came back after the crash"
    assert len(after) == len(set(after))
    # nothing unacknowledged was lost (an ack the kill cut off may have been applied or not)
    assert written - acked - unanswered <= set(after) <= written - acked
