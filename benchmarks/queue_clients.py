"""The clients of ``queue_vs_redis.py``: the drains, the client processes, the served engine, the HTTP floor.

- :func:`drain_redis`, :func:`drain_lean`, :func:`drain_boto3`: one client's receive + acknowledge
  loop (Redis Streams consumer group; Kinesis JSON over ``http.client``; boto3);
- :class:`ClientPool`: k spawned processes that run one drain together, timed from a barrier;
- :class:`ServedShardstream`: ``shardstream serve`` in a child process, a stream of records, queues;
- :class:`FloorServer`: ``python benchmarks/queue_clients.py floor --port P``, an aiohttp server whose
  POST handler reads the body, parses it with orjson and answers a canned ReceiveQueueRecords
  (10 records of the real shapes and sizes) or AcknowledgeQueueRecords body: the HTTP stack's floor
  for these calls, as ``server_load.py``'s bare server is for PutRecords and GetRecords.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import itertools
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import orjson

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

from data import list_records  # noqa: E402
from server_load import DUMMY_AUTH, JSON_CT, TARGET  # noqa: E402

HTTP_LIMIT = 10  # the most ReceiveQueueRecords and AcknowledgeQueueRecords take
PUT_BATCH = 500
QUEUE_VISIBILITY_S = 600  # no redelivery during a drain
BARRIER_TIMEOUT_S = 120
FLOOR_ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/bench/queue/floor"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` (killed if it has not ended within 10 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_listening(port: int, proc: subprocess.Popen, what: str, timeout: float = 15.0) -> None:
    """Return once 127.0.0.1:``port`` accepts connections; raise if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


# -- the drains ----------------------------------------------------------------------------------


def drain_redis(r, stream: str, group: str, consumer: str, count: int) -> tuple[int, float | None]:
    """XREADGROUP ``count`` + XACK until nothing is new; (records, perf_counter of the last ack)."""
    xreadgroup, xack = r.xreadgroup, r.xack
    streams = {stream: ">"}
    done, last = 0, None
    while True:
        reply = xreadgroup(group, consumer, streams, count=count)
        if not reply:
            return done, last
        entries = reply[0][1]
        if not entries:
            return done, last
        acked = xack(stream, group, *[e[0] for e in entries])
        done += acked
        last = time.perf_counter()


# -- shardstream over HTTP -----------------------------------------------------------------------


class LeanKinesis:
    """Kinesis JSON calls over one keep-alive ``http.client`` connection, bodies by orjson.

    Parameters
    ----------
    url : str
        ``http://host:port`` of a shardstream server.
    """

    def __init__(self, url: str):
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._headers = {
            op: {"Content-Type": JSON_CT, "X-Amz-Target": TARGET + op, **DUMMY_AUTH}
            for op in ("ReceiveQueueRecords", "AcknowledgeQueueRecords", "DescribeQueue")
        }

    def call(self, operation: str, body: bytes) -> dict:
        """POST ``body`` (JSON bytes) as ``operation``; the parsed answer (RuntimeError unless 200)."""
        self._conn.request("POST", "/", body, self._headers[operation])
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{operation}: HTTP {response.status}: {payload[:300]!r}")
        return orjson.loads(payload)

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        self._conn.close()


def drain_lean(client: LeanKinesis, arn: str, pairs: int | None = None) -> tuple[int, float | None]:
    """ReceiveQueueRecords(10) + AcknowledgeQueueRecords until a receive is empty; (acked, last ack time).

    With ``pairs``: stop after that many receive + acknowledge pairs (for the floor server, never empty).
    """
    receive = orjson.dumps({"QueueARN": arn, "Limit": HTTP_LIMIT, "WaitTimeSeconds": 1})
    b64decode, dumps, call = base64.b64decode, orjson.dumps, client.call
    done, last = 0, None
    for _ in itertools.repeat(None) if pairs is None else range(pairs):
        records = call("ReceiveQueueRecords", receive)["QueueRecords"]
        if not records:
            return done, last
        for record in records:
            b64decode(record["Data"])
        entries = [{"ReceiptHandle": record["ReceiptHandle"]} for record in records]
        answer = call("AcknowledgeQueueRecords", dumps({"QueueARN": arn, "Entries": entries}))
        done += len(records) - len(answer.get("Failed") or ())
        last = time.perf_counter()
    return done, last


def drain_boto3(client, arn: str) -> tuple[int, float | None]:
    """As :func:`drain_lean`, through a boto3 ``kinesis`` client."""
    receive, acknowledge = client.receive_queue_records, client.acknowledge_queue_records
    done, last = 0, None
    while True:
        records = receive(QueueARN=arn, Limit=HTTP_LIMIT, WaitTimeSeconds=1)["QueueRecords"]
        if not records:
            return done, last
        answer = acknowledge(QueueARN=arn, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in records])
        done += len(records) - len(answer.get("Failed") or ())
        last = time.perf_counter()


# -- client processes ----------------------------------------------------------------------------


def client_process(index: int, inbox, outbox, barrier) -> None:
    """A load-generating process: for each task, connect (untimed), meet the others, drain, report.

    A task is ``(kind, target, arg)``: ``("boto3" | "lean", server_url, queue_arn)``,
    ``("floor", floor_url, pairs)`` or ``("redis", port, (stream, group))``.  The answer is ``(records, perf_counter at start, at the last ack)``
    or ``("error", text)``.  ``None`` ends the process.
    """
    clients: dict = {}
    while True:
        task = inbox.get()
        if task is None:
            return
        kind, target, arg = task
        try:
            client = clients.get((kind, target))
            if client is None:
                if kind == "boto3":
                    from shardstream.testing import boto3_client

                    client = boto3_client(target)
                elif kind in ("lean", "floor"):
                    client = LeanKinesis(target)
                else:
                    import redis

                    client = redis.Redis(host="127.0.0.1", port=target)
                clients[(kind, target)] = client
            # warm the connection (and boto3's operation models) before the clock starts
            if kind == "boto3":
                client.describe_queue(QueueARN=arg)
            elif kind in ("lean", "floor"):
                client.close()  # the server may have closed it while idle (keep-alive timeout)
                client.call("DescribeQueue", orjson.dumps({"QueueARN": FLOOR_ARN if kind == "floor" else arg}))
            else:
                client.ping()
            barrier.wait(BARRIER_TIMEOUT_S)
            began = time.perf_counter()
            if kind == "boto3":
                done, last = drain_boto3(client, arg)
            elif kind == "lean":
                done, last = drain_lean(client, arg)
            elif kind == "floor":
                done, last = drain_lean(client, FLOOR_ARN, arg)
            else:
                done, last = drain_redis(client, *arg, f"c{index}", HTTP_LIMIT)
            outbox.put((done, began, last))
        except BaseException as exc:  # report it; the parent raises
            with contextlib.suppress(Exception):
                barrier.abort()
            outbox.put(("error", f"{type(exc).__name__}: {exc}"))


class ClientPool:
    """``k`` spawned client processes that run one drain together per :meth:`run`.

    Parameters
    ----------
    k : int
        How many processes.
    """

    def __init__(self, k: int):
        ctx = mp.get_context("spawn")
        self.k = k
        self._barrier = ctx.Barrier(k)
        self._outbox = ctx.Queue()
        self._inboxes = [ctx.Queue() for _ in range(k)]
        self._procs = [
            ctx.Process(target=client_process, args=(i, self._inboxes[i], self._outbox, self._barrier), daemon=True)
            for i in range(k)
        ]
        for proc in self._procs:
            proc.start()

    def run(self, kind: str, target, arg) -> tuple[int, float]:
        """Every process drains (``kind``, ``target``, ``arg``); (records acknowledged, seconds).

        The seconds run from the earliest start to the latest last acknowledgement.
        """
        self._barrier.reset()
        for inbox in self._inboxes:
            inbox.put((kind, target, arg))
        answers = [self._outbox.get(timeout=BARRIER_TIMEOUT_S + 600) for _ in range(self.k)]
        errors = [a[1] for a in answers if a[0] == "error"]
        if errors:
            raise RuntimeError(f"client process failed: {errors}")
        done = sum(a[0] for a in answers)
        lasts = [a[2] for a in answers if a[2] is not None]
        return done, max(lasts) - min(a[1] for a in answers)

    def close(self) -> None:
        """End the processes."""
        for inbox in self._inboxes:
            inbox.put(None)
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


class ServedShardstream:
    """``shardstream serve`` in a child process, with a stream holding the records and queues on it.

    Parameters
    ----------
    keys, data : list
        The records, put once through PutRecords (500 per call).
    """

    def __init__(self, keys: list, data: list):
        from shardstream.testing import boto3_client

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shardstream", "serve", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_listening(self.port, self.proc, "shardstream serve")
        self.client = boto3_client(self.url)
        self.client.create_stream(StreamName="bench", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        self.client.get_waiter("stream_exists").wait(StreamName="bench", WaiterConfig={"Delay": 0.1})
        self.stream_arn = self.client.describe_stream_summary(StreamName="bench")["StreamDescriptionSummary"][
            "StreamARN"
        ]
        for start in range(0, len(keys), PUT_BATCH):
            records = [
                {"Data": d, "PartitionKey": k}
                for k, d in zip(keys[start : start + PUT_BATCH], data[start : start + PUT_BATCH])
            ]
            answer = self.client.put_records(StreamName="bench", Records=records)
            if answer["FailedRecordCount"]:
                raise RuntimeError("PutRecords refused records")
        self._serial = 0

    def new_queue(self) -> str:
        """A fresh queue from TRIM_HORIZON of the stream; its ARN."""
        self._serial += 1
        config = [{"StreamARN": self.stream_arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        attrs = {"VisibilityTimeoutSeconds": QUEUE_VISIBILITY_S}
        return self.client.create_queue(
            QueueName=f"q{self._serial}", StreamConfigurationList=config, QueueAttributes=attrs
        )["QueueDescription"]["QueueARN"]

    def delete_queue(self, arn: str) -> None:
        """Delete a queue made by :meth:`new_queue`."""
        self.client.delete_queue(QueueARN=arn)

    def stop(self) -> None:
        """Stop the server."""
        stop_process(self.proc)


# -- the HTTP floor ------------------------------------------------------------------------------


def canned_bodies() -> dict:
    """X-Amz-Target -> the canned answer: 10 records of the real server's shapes and sizes, 10 acks."""
    keys, data = list_records(HTTP_LIMIT)
    handles = [base64.urlsafe_b64encode(i.to_bytes(42, "big")).decode("ascii") for i in range(HTTP_LIMIT)]
    ts = 1_796_542_041.837
    records = [
        {
            "ReceiptHandle": h,
            "RecordId": "4968088492842506996186224744769" + f"{i:025d}",
            "PartitionKey": k,
            "Data": base64.b64encode(d).decode("ascii"),
            "ApproximateArrivalTimestamp": ts,
            "FirstReceiveTimestamp": ts,
            "ReceiveCount": 1,
        }
        for i, (h, k, d) in enumerate(zip(handles, keys, data))
    ]
    acks = {"Successful": [{"ReceiptHandle": h} for h in handles], "Failed": []}
    return {
        TARGET + "ReceiveQueueRecords": orjson.dumps({"QueueRecords": records}),
        TARGET + "AcknowledgeQueueRecords": orjson.dumps(acks),
    }


def run_floor(port: int) -> None:
    """Serve the canned answers on 127.0.0.1:``port`` until killed (the ``floor`` role)."""
    from aiohttp import web

    canned = canned_bodies()
    static = {
        "Content-Type": JSON_CT,
        "x-amzn-RequestId": "00000000-0000-4000-8000-000000000000",
        "x-amz-id-2": base64.b64encode(bytes(72)).decode("ascii"),
    }

    async def handle(request: web.Request) -> web.Response:
        orjson.loads(await request.read())  # parsed, as the real server does; not used
        return web.Response(status=200, body=canned.get(request.headers.get("X-Amz-Target", ""), b"{}"), headers=static)

    app = web.Application()
    app.router.add_post("/", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


class FloorServer:
    """The floor server (:func:`run_floor`) in a child process on a free loopback port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, HERE, "floor", "--port", str(self.port)])
        wait_listening(self.port, self.proc, "floor server")

    def stop(self) -> None:
        """Stop the server."""
        stop_process(self.proc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the HTTP floor server for queue_vs_redis.py")
    parser.add_argument("role", choices=["floor"])
    parser.add_argument("--port", type=int, required=True)
    run_floor(parser.parse_args().port)
