"""Queue delivery: visibility timeouts, redelivery, dead letters, restore, long polls, threads, state size."""

from __future__ import annotations

import threading
import time

import pytest

from .helpers import entries, make_queue, put, setup


@pytest.fixture
def env():
    clock, engine, stream = setup()
    yield clock, engine, stream
    engine.close()


def receive(engine, arn, **kw):
    return engine.receive_queue_records(arn, wait_time_seconds=1, **kw)["QueueRecords"]


def test_redelivery_after_the_visibility_timeout(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=10)
    put(stream, 1)
    [first] = receive(engine, arn)
    queue = engine.queues.queue(arn)
    assert queue.receive_batch(10).num_rows == 0  # in flight: nobody else gets it
    clock.advance(9_999)
    assert queue.receive_batch(10).num_rows == 0
    clock.advance(1)
    [second] = receive(engine, arn)
    assert second["RecordId"] == first["RecordId"] and second["ReceiveCount"] == 2
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["FirstReceiveTimestamp"] == first["FirstReceiveTimestamp"]
    # the old handle stopped working when the record was delivered again
    assert engine.acknowledge_queue_records(arn, entries([first]))["Successful"] == []
    assert engine.acknowledge_queue_records(arn, entries([second]))["Failed"] == []
    clock.advance(60_000)
    assert queue.receive_batch(10).num_rows == 0


def test_per_receive_visibility_and_visibility_zero(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    put(stream, 2)
    records = receive(engine, arn, visibility_timeout_seconds=100)
    assert len(records) == 2
    clock.advance(30_000)
    assert engine.queues.queue(arn).receive_batch(10).num_rows == 0
    change = [{"ReceiptHandle": records[0]["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}]
    assert engine.update_queue_records_visibility(arn, change)["Failed"] == []
    [again] = receive(engine, arn)
    assert again["RecordId"] == records[0]["RecordId"] and again["ReceiveCount"] == 2
    longer = [{"ReceiptHandle": records[1]["ReceiptHandle"], "VisibilityTimeoutSeconds": 500}]
    assert engine.update_queue_records_visibility(arn, longer)["Failed"] == []
    clock.advance(400_000)
    assert engine.queues.queue(arn).receive_batch(10).num_rows == 1  # the first one (30 s default) again


def test_dead_letters_after_max_receive_count_and_restore(env):
    clock, engine, stream = env
    arn = make_queue(
        engine,
        stream,
        VisibilityTimeoutSeconds=1,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 3},
    )
    put(stream, 1)
    for count in (1, 2, 3):
        [r] = receive(engine, arn)
        assert r["ReceiveCount"] == count
        clock.advance(1_000)
    queue = engine.queues.queue(arn)
    assert queue.receive_batch(10).num_rows == 0  # now a dead letter
    [dead] = engine.receive_dead_letter_queue_records(arn, wait_time_seconds=1, visibility_timeout_seconds=5)[
        "QueueRecords"
    ]
    assert dead["RecordId"] == r["RecordId"] and dead["Data"] == b"r0" and dead["ReceiveCount"] == 3
    assert queue.receive_batch(10, dead=True).num_rows == 0  # in flight in the dead-letter path
    # a dead-letter handle is not a normal one
    assert engine.acknowledge_queue_records(arn, entries([dead]))["Successful"] == []
    change = [{"ReceiptHandle": dead["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}]
    assert engine.update_dead_letter_queue_records_visibility(arn, change)["Failed"] == []
    [dead] = engine.receive_dead_letter_queue_records(arn, wait_time_seconds=1)["QueueRecords"]
    assert engine.restore_dead_letter_queue_records(arn, entries([dead]))["Failed"] == []
    assert engine.restore_dead_letter_queue_records(arn, entries([dead]))["Successful"] == []
    [back] = receive(engine, arn)
    assert back["RecordId"] == r["RecordId"] and back["ReceiveCount"] == 1
    assert engine.acknowledge_queue_records(arn, entries([back]))["Failed"] == []
    assert queue.state_size() == 0


def test_acknowledged_dead_letters_are_gone_and_none_means_forever(env):
    clock, engine, stream = env
    arn = make_queue(
        engine,
        stream,
        VisibilityTimeoutSeconds=0,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1},
    )
    none = make_queue(
        engine, stream, "none", VisibilityTimeoutSeconds=0, DeadLetterConfiguration={"TargetType": "NONE"}
    )
    put(stream, 1)
    receive(engine, arn)
    [dead] = engine.receive_dead_letter_queue_records(arn, wait_time_seconds=1)["QueueRecords"]
    assert engine.acknowledge_dead_letter_queue_records(arn, entries([dead]))["Failed"] == []
    assert engine.queues.queue(arn).receive_batch(10, dead=True).num_rows == 0
    assert engine.queues.queue(arn).state_size() == 0
    for count in range(1, 20):
        [r] = receive(engine, none)
        assert r["ReceiveCount"] == count


def test_records_that_age_out_are_not_delivered(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=10)
    put(stream, 3)
    assert len(receive(engine, arn)) == 3
    clock.advance(25 * 3_600_000)  # past the 24 h retention
    queue = engine.queues.queue(arn)
    assert queue.receive_batch(10).num_rows == 0
    assert queue.state_size() == 0


def test_long_poll_returns_when_a_record_arrives(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    started = threading.Event()

    def writer():
        started.wait()
        time.sleep(0.2)
        put(stream, 1)

    t = threading.Thread(target=writer)
    t.start()
    began = time.monotonic()
    started.set()
    records = engine.receive_queue_records(arn, wait_time_seconds=10)["QueueRecords"]
    waited = time.monotonic() - began
    t.join()
    assert [r["Data"] for r in records] == [b"r0"]
    assert 0.15 < waited < 2


def test_long_poll_wakes_when_a_record_is_made_visible(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    put(stream, 1)
    [r] = receive(engine, arn)
    out = []
    t = threading.Thread(
        target=lambda: out.extend(engine.receive_queue_records(arn, wait_time_seconds=10)["QueueRecords"])
    )
    began = time.monotonic()
    t.start()
    time.sleep(0.1)
    engine.update_queue_records_visibility(arn, [{"ReceiptHandle": r["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}])
    t.join()
    assert [x["RecordId"] for x in out] == [r["RecordId"]] and time.monotonic() - began < 2


def test_empty_long_poll_waits_its_time(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    began = time.monotonic()
    assert receive(engine, arn) == []
    assert 0.9 < time.monotonic() - began < 3


def test_two_consumers_never_share_a_record_in_flight(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=600)
    sent = put(stream, 2000)
    seen: list[list] = [[], [], [], []]

    def consume(out):
        queue = engine.queues.queue(arn)
        while True:
            table = queue.receive_batch(37)
            if not table.num_rows:
                return
            out.extend(table.column("record_id").to_pylist())
            if len(out) % 2:
                queue.settle(table.column("receipt_handle").to_pylist(), "ack")

    threads = [threading.Thread(target=consume, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [rid for out in seen for rid in out]
    assert len(everything) == len(set(everything)) == len(sent)


def test_state_shrinks_as_acks_arrive(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=600)
    put(stream, 5000)
    queue = engine.queues.queue(arn)
    table = queue.receive_batch(3000)
    assert queue.state_size() == 3000
    handles = table.column("receipt_handle").to_pylist()
    assert queue.settle(handles[1:], "ack").all()  # every record but the oldest in hand
    assert queue.state_size() == 1
    doc = queue.state_doc()
    assert sum(len(s["inflight"]["counter"]) for s in doc.values()) == 1
    table = queue.receive_batch(5000)
    assert table.num_rows == 2000
    assert queue.settle(table.column("receipt_handle").to_pylist() + handles[:1], "ack").all()
    assert queue.state_size() == 0


def test_a_queue_reads_a_durable_stream(tmp_path):
    from shardstream import Engine

    with Engine(data_dir=tmp_path / "data", durability="none") as engine:
        stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
        arn = make_queue(engine, stream)
        sent = put(stream, 30)
        engine.flush()
        got = []
        while records := engine.receive_queue_records(arn, wait_time_seconds=1)["QueueRecords"]:
            got.extend(records)
            assert engine.acknowledge_queue_records(arn, entries(records))["Failed"] == []
        assert sorted(r["Data"] for r in got) == sorted(sent)
        assert engine.queues.queue(arn).state_size() == 0


def test_the_write_signal_fires_only_while_someone_waits(env):
    clock, engine, stream = env
    signal = stream.writes
    assert stream.write_signal is None
    stream.put_record(b"x", "k")
    before = signal.generation
    with signal.watching():
        stream.put_record(b"x", "k")
        stream.put_batch(["a", "b"], [b"1", b"2"])
        stream.put_records([{"Data": b"3", "PartitionKey": "c"}])
        assert signal.generation == before + 3
        assert signal.wait(before, 0.0)
        assert not signal.wait(signal.generation, 0.01)
    assert stream.write_signal is None
    stream.put_record(b"x", "k")
    assert signal.generation == before + 3


def test_a_single_put_record_wakes_a_long_poll_at_once(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    out = []
    t = threading.Thread(
        target=lambda: out.extend(engine.receive_queue_records(arn, wait_time_seconds=10)["QueueRecords"])
    )
    t.start()
    time.sleep(0.1)
    began = time.monotonic()
    stream.put_record(b"now", "k")
    t.join()
    assert [r["Data"] for r in out] == [b"now"] and time.monotonic() - began < 0.5


def test_delivery_state_is_a_small_json_document(env):
    import json

    from shardstream.queue_state import ShardDelivery

    clock, engine, stream = env
    arn = make_queue(
        engine,
        stream,
        VisibilityTimeoutSeconds=0,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 1},
    )
    put(stream, 40)
    queue = engine.queues.queue(arn)
    queue.receive_batch(25)
    queue.receive_batch(5, dead=True)  # some dead letters, some in flight
    doc = json.loads(json.dumps(queue.state_doc()))
    for shard in doc.values():
        again = ShardDelivery.from_doc(shard)
        assert again.to_doc() == shard
        assert again.watermark <= again.frontier
    assert sum(len(s["inflight"]["counter"]) + len(s["dead"]["counter"]) for s in doc.values()) == queue.state_size()
