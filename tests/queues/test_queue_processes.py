"""Three consumer processes share one queue of a stream served by ``shardstream serve`` while a writer runs.

Each consumer (``queue_consumer.py``) logs every delivery it gets -- RecordId, receipt handle,
ReceiveCount, the times around its receive and its ack, and the ack's outcome -- and the test
checks the whole history: every record written was acknowledged successfully exactly once, no
record was delivered again while a delivery of it was still within its visibility timeout, every
failed ack is explained by a later delivery that had already replaced it, and each consumer got
a share.  In the second test one consumer leaves some first deliveries unacknowledged; the queue
must hand each out again (ReceiveCount 2) once its timeout passes.

Times come from one realtime clock (server and consumers run on this machine).  A delivery's
server time is bracketed by the consumer's times around the receive call, and a first delivery's
is exactly its ``FirstReceiveTimestamp``, so "redelivered too early" is decided from bounds a
correct server always satisfies.
"""

from __future__ import annotations

import collections
import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from serve_process import ServeProcess

from shardstream.testing import boto3_client

CONSUMER = Path(__file__).with_name("queue_consumer.py")
SLACK_MS = 2  # the server's clock is read in whole ms
WAIT_S = 60  # generous limit for each wait (a loaded machine); the waits end on events, not on time


@pytest.fixture(scope="module")
def server():
    with ServeProcess() as proc:
        yield proc.url()


class Log:
    """The JSON lines the consumer processes write, gathered as they arrive."""

    def __init__(self):
        self._cond = threading.Condition()
        self.events: list[dict] = []
        self.acked: set[str] = set()  # payloads acknowledged successfully
        self.kinds: collections.Counter = collections.Counter()  # events by kind

    def follow(self, proc: subprocess.Popen) -> threading.Thread:
        """Read ``proc``'s stdout into the log until it closes; an ``eof`` event marks the end."""

        def run():
            for line in proc.stdout:
                self.add(json.loads(line))
            self.add({"event": "eof", "pid": proc.pid})

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def add(self, event: dict) -> None:
        with self._cond:
            self.events.append(event)
            self.kinds[event["event"]] += 1
            if event.get("acked"):
                self.acked.add(event["data"])
            self._cond.notify_all()

    def wait_for(self, condition, what: str, timeout: float = WAIT_S) -> None:
        """Wait until ``condition(self)`` holds; fail if it does not within ``timeout`` or a consumer ends."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition(self):
                assert not self.kinds["eof"], f"a consumer ended while waiting for {what}"
                left = deadline - time.monotonic()
                assert left > 0, f"timed out waiting for {what}"
                self._cond.wait(left)


class Writer(threading.Thread):
    """Puts ``n`` unique payloads with boto3 ``put_records``, a few per call, and keeps their RecordIds."""

    def __init__(self, url: str, stream: str, n: int, prefix: str, per_call: int = 25):
        super().__init__(daemon=True)
        self.kinesis = boto3_client(url)
        self.stream, self.n, self.prefix, self.per_call = stream, n, prefix, per_call
        self.record_ids: dict[str, str] = {}  # payload -> RecordId (its sequence number)
        self.started = self.finished = None
        self.error: BaseException | None = None

    def run(self):
        try:
            self.started = time.time()
            for lo in range(0, self.n, self.per_call):
                payloads = [f"{self.prefix}-{i:05d}" for i in range(lo, min(lo + self.per_call, self.n))]
                records = [{"Data": p.encode(), "PartitionKey": p} for p in payloads]
                response = self.kinesis.put_records(StreamName=self.stream, Records=records)
                assert response["FailedRecordCount"] == 0, response
                for payload, result in zip(payloads, response["Records"]):
                    self.record_ids[payload] = result["SequenceNumber"]
            self.finished = time.time()
        except BaseException as exc:  # reported by the test after join()
            self.error = exc


def make_queue(kinesis, stream: str, visibility_s: int) -> str:
    """An on-demand stream and a TRIM_HORIZON queue on it; the queue's ARN once it is ACTIVE."""
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    deadline = time.monotonic() + WAIT_S
    while kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "stream not ACTIVE"
        time.sleep(0.05)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    config = [{"StreamARN": arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    attributes = {"VisibilityTimeoutSeconds": visibility_s}
    queue = kinesis.create_queue(QueueName=f"{stream}-q", StreamConfigurationList=config, QueueAttributes=attributes)
    queue_arn = queue["QueueDescription"]["QueueARN"]
    while kinesis.describe_queue(QueueARN=queue_arn)["QueueDescription"]["QueueStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "queue not ACTIVE"
        time.sleep(0.05)
    return queue_arn


def run_consumers(url: str, tmp_path: Path, stream: str, n: int, visibility_s: int, skip_every: list[int]):
    """Three consumers on a new queue while a writer puts ``n`` records; ``(writer, deliveries)``.

    Consumers stop (told on stdin) once every payload written has a successful ack; then the queue
    must have nothing visible left.
    """
    kinesis = boto3_client(url)
    queue_arn = make_queue(kinesis, stream, visibility_s)
    log = Log()
    procs, readers = [], []
    try:
        for i, skip in enumerate(skip_every):
            with open(tmp_path / f"c{i}.err", "w") as err:
                proc = subprocess.Popen(
                    [sys.executable, str(CONSUMER), url, queue_arn, f"c{i}", str(skip)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            procs.append(proc)
            readers.append(log.follow(proc))
        log.wait_for(lambda log: log.kinds["ready"] == len(procs), "the consumers to start")
        writer = Writer(url, stream, n, prefix=stream)
        writer.start()
        writer.join(WAIT_S)
        assert writer.error is None and writer.finished is not None, f"writer failed: {writer.error!r}"
        want = set(writer.record_ids)
        assert len(want) == n

        log.wait_for(lambda log: len(log.acked) >= n, "every record to be acknowledged")
        assert log.acked == want
        for proc in procs:
            proc.stdin.write("stop\n")
            proc.stdin.flush()
        codes = [proc.wait(timeout=WAIT_S) for proc in procs]
    except BaseException:
        errors = "\n".join((tmp_path / f"c{i}.err").read_text() for i in range(len(procs)))
        print(f"consumer stderr:\n{errors}")
        raise
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for proc, reader in zip(procs, readers):
            reader.join(WAIT_S)
            proc.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
    errors = [(tmp_path / f"c{i}.err").read_text() for i in range(len(procs))]
    assert codes == [0] * len(procs), errors
    assert sorted(e["consumer"] for e in log.events if e["event"] == "exit") == [f"c{i}" for i in range(len(procs))]
    # nothing left visible: every record was acknowledged, none is waiting to be handed out again
    assert kinesis.receive_queue_records(QueueARN=queue_arn, WaitTimeSeconds=1)["QueueRecords"] == []
    return writer, [e for e in log.events if e["event"] == "delivery"]


def check_history(writer: Writer, deliveries: list[dict], visibility_s: int) -> dict:
    """Assert the delivery history is that of a correct queue; per-record delivery lists by RecordId."""
    by_id = collections.defaultdict(list)
    for d in deliveries:
        by_id[d["record_id"]].append(d)
    # exactly the records written were delivered, each with its own payload
    assert set(by_id) == set(writer.record_ids.values())
    assert {d["data"]: d["record_id"] for d in deliveries} == writer.record_ids
    assert len({d["handle"] for d in deliveries}) == len(deliveries), "a receipt handle was handed out twice"
    vis_ms = visibility_s * 1000
    for record_id, ds in by_id.items():
        ds.sort(key=lambda d: d["count"])
        # ReceiveCount counts this record's deliveries, in the order they happened
        assert [d["count"] for d in ds] == list(range(1, len(ds) + 1)), ds
        assert all(a["recv_start"] <= b["recv_end"] for a, b in zip(ds, ds[1:])), ds
        assert {d["first_receive_ms"] for d in ds} == {ds[0]["first_receive_ms"]}, ds
        # acknowledged successfully exactly once, by its last delivery: nothing is delivered after an ack
        assert [d["acked"] for d in ds].count(True) == 1, ds
        assert ds[-1]["acked"] is True, ds
        for prev, nxt in zip(ds, ds[1:]):
            # the next delivery came no sooner than the previous one's timeout: the earliest the server
            # can have made the previous delivery is its FirstReceiveTimestamp (first delivery) or the
            # start of its receive call; the latest it made the next one is the end of that call
            made_ms = prev["first_receive_ms"] if prev["count"] == 1 else prev["recv_start"] * 1000 - SLACK_MS
            assert nxt["recv_end"] * 1000 >= made_ms + vis_ms, (
                f"{record_id} delivered to {nxt['consumer']} {made_ms + vis_ms - nxt['recv_end'] * 1000:.0f} ms "
                f"before the timeout of its delivery to {prev['consumer']}: {prev} {nxt}"
            )
            # a failed ack is legitimate only when the delivery it named had already been replaced
            if prev["acked"] is False:
                assert prev["ack_error"] == "InvalidArgumentException", prev
                assert nxt["recv_start"] <= prev["ack_end"], (prev, nxt)
    return by_id


def acks_by_consumer(deliveries: list[dict]) -> collections.Counter:
    return collections.Counter(d["consumer"] for d in deliveries if d["acked"])


def test_three_processes_share_a_queue_while_a_writer_runs(server, tmp_path):
    n, visibility_s = 3000, 10
    t0 = time.monotonic()
    writer, deliveries = run_consumers(server, tmp_path, "shared", n, visibility_s, [0, 0, 0])
    check_history(writer, deliveries, visibility_s)
    # every ack sent succeeded (a failure would need a consumer stalled for the 10 s timeout)
    assert [d for d in deliveries if d["acked"] is not True] == []
    # the three shared the work, and they worked while the writer was writing
    shares = acks_by_consumer(deliveries)
    assert set(shares) == {"c0", "c1", "c2"} and min(shares.values()) >= n // 10, shares
    while_writing = sum(d["ack_end"] < writer.finished for d in deliveries)
    assert while_writing >= n // 10, f"only {while_writing} acks before the writer finished"
    print(
        f"{n} records in {time.monotonic() - t0:.1f} s; {while_writing} acked while writing; by consumer {dict(shares)}"
    )


def test_unacknowledged_records_come_back_after_the_timeout(server, tmp_path):
    n, visibility_s, skip_every = 1500, 2, 20
    t0 = time.monotonic()
    writer, deliveries = run_consumers(server, tmp_path, "retried", n, visibility_s, [skip_every, 0, 0])
    by_id = check_history(writer, deliveries, visibility_s)
    skipped = [d for d in deliveries if d["acked"] is None]
    # only c0 skipped acks, only of first deliveries, one in every skip_every of them
    assert skipped and {(d["consumer"], d["count"]) for d in skipped} == {("c0", 1)}
    c0_first = sum(d["consumer"] == "c0" and d["count"] == 1 for d in deliveries)
    assert len(skipped) == c0_first // skip_every >= 3
    # each came back -- to any consumer -- once its timeout passed (check_history), as ReceiveCount 2
    returned = [by_id[d["record_id"]][1] for d in skipped]
    assert {d["count"] for d in returned} == {2}
    # the records c0 acknowledged, and those of the other two, were delivered once
    # (or, legitimately, whose ack came too late and failed: check_history)
    redelivered = {rid for rid, ds in by_id.items() if len(ds) > 1}
    late = {d["record_id"] for d in deliveries if d["acked"] is False}
    assert redelivered <= {d["record_id"] for d in skipped} | late
    shares = acks_by_consumer(deliveries)
    assert set(shares) == {"c0", "c1", "c2"} and min(shares.values()) >= n // 10, shares
    print(
        f"{n} records in {time.monotonic() - t0:.1f} s; {len(skipped)} skipped, back to "
        f"{collections.Counter(d['consumer'] for d in returned)}; acks by consumer {dict(shares)}"
    )
