"""Queue receive + acknowledge throughput (records/s): shardstream against Redis Streams consumer groups.

Run: ``python benchmarks/queue_vs_redis.py [--records 100000] [--http-records 20000] [--rounds 5]``
(needs the ``bench`` extra and Debian's ``redis-server`` on ``PATH``).  A quick run:
``--records 20000 --http-records 3000 --rounds 3 --no-aof``.

The script starts its own ``redis-server`` (loopback TCP on a free port plus a unix socket, in a
temporary directory; ``--save "" --appendonly no``, and a second one with ``--appendonly yes
--appendfsync everysec`` unless ``--no-aof``), fills one Redis stream with the records (``XADD``,
pipelined; fields ``k`` = partition key, ``d`` = 100-byte payload) and one shardstream on-demand
stream with the same records, once.  Every drain then starts from a fresh queue (``TRIM_HORIZON``)
or a fresh consumer group (``XGROUP CREATE ... 0``) and is deleted afterwards, so each drain
delivers and acknowledges every record exactly once; the counts are checked.

Embedded (this process, ``--records`` records):

- ``queue.receive_batch(b)`` + ``queue.settle(handles, "ack")`` for b = 10, 100, 1000, and the
  boto3-shaped ``engine.receive_queue_records`` + ``engine.acknowledge_queue_records`` (10 per call)
- against redis-py ``XREADGROUP GROUP g c COUNT b STREAMS s >`` + ``XACK s g id...`` of the ids it
  returned, one client over the unix socket (Redis's fastest local path), no pipelining (the ack
  needs the read's ids).

Over HTTP (``--http-records`` records): a real ``shardstream serve`` child process on loopback, and
k client processes (k = 1 and 4, ``--clients``) each looping ReceiveQueueRecords(Limit=10,
WaitTimeSeconds=1) + AcknowledgeQueueRecords of what it got, until a receive comes back empty:

- ``boto3``: the boto3 ``kinesis`` client (``shardstream.testing.boto3_client``);
- ``lean``: ``http.client`` keep-alive POSTs of orjson bodies with the Kinesis JSON headers and a
  well-formed dummy SigV4 header (the server's default auth mode checks presence only), the
  payloads base64-decoded: the protocol's cost without boto3's;
- against k redis-py clients over TCP loopback doing ``XREADGROUP COUNT 10`` + ``XACK``.

A multi-process drain is timed from the moment the clients leave a barrier (after connecting) to
the last acknowledgement any of them got back: the final, empty long poll each shardstream
client waits out (1 s) is not counted.  Each round runs every workload and its Redis baselines back
to back, in reversed order every other round, after ``--warmup`` untimed rounds.  The headline is
the median over rounds of the per-round ratio shardstream records/s / Redis records/s (> 1: ahead
of Redis); the records/s columns are medians of the rounds.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import multiprocessing as mp
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import orjson

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

from data import list_records  # noqa: E402
from server_load import DUMMY_AUTH, JSON_CT, TARGET  # noqa: E402

EMBEDDED_BATCHES = (10, 100, 1000)
HTTP_LIMIT = 10  # the most ReceiveQueueRecords and AcknowledgeQueueRecords take
PUT_BATCH = 500
QUEUE_VISIBILITY_S = 600  # no redelivery during a drain
BARRIER_TIMEOUT_S = 120


def redis_stream(n: int) -> str:
    """The Redis stream holding the first ``n`` records."""
    return f"bench-{n}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


# -- Redis ---------------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` child process on a free loopback port and a unix socket, in its own directory.

    Parameters
    ----------
    parent : str
        Directory to make the server's scratch directory in (deleted by :meth:`stop`).
    appendonly : bool
        ``--appendonly yes --appendfsync everysec`` instead of ``--appendonly no``.
    """

    def __init__(self, parent: str, appendonly: bool):
        self.appendonly = appendonly
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=parent)
        self.port = free_port()
        self.unix_socket = os.path.join(self.dir, "redis.sock")
        args = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--unixsocket",
            self.unix_socket,
            "--unixsocketperm",
            "700",
            "--dir",
            self.dir,
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            "",
        ]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if appendonly else ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.proc, "redis-server")

    @property
    def label(self) -> str:
        """``redis`` or ``redis-aof``."""
        return "redis-aof" if self.appendonly else "redis"

    def client(self, unix: bool):
        """A redis-py client over the unix socket (``unix``) or TCP."""
        import redis

        if unix:
            return redis.Redis(unix_socket_path=self.unix_socket)
        return redis.Redis(host="127.0.0.1", port=self.port)

    def fill(self, stream: str, keys: list, data: list) -> None:
        """XADD every record (fields ``k``, ``d``) to ``stream``, pipelined 1,000 at a time."""
        r = self.client(unix=True)
        r.delete(stream)
        for start in range(0, len(keys), 1000):
            pipe = r.pipeline(transaction=False)
            for k, d in zip(keys[start : start + 1000], data[start : start + 1000]):
                pipe.xadd(stream, {"k": k, "d": d})
            pipe.execute()
        if r.xlen(stream) != len(keys):
            raise RuntimeError("redis stream not filled")
        r.close()

    def version(self) -> str:
        """The server's ``redis_version``."""
        r = self.client(unix=True)
        try:
            return r.info("server")["redis_version"]
        finally:
            r.close()

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


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
        """Close the connection."""
        self._conn.close()


def drain_lean(client: LeanKinesis, arn: str) -> tuple[int, float | None]:
    """ReceiveQueueRecords(10) + AcknowledgeQueueRecords until a receive is empty; (acked, last ack time)."""
    receive = orjson.dumps({"QueueARN": arn, "Limit": HTTP_LIMIT, "WaitTimeSeconds": 1})
    b64decode, dumps, call = base64.b64decode, orjson.dumps, client.call
    done, last = 0, None
    while True:
        records = call("ReceiveQueueRecords", receive)["QueueRecords"]
        if not records:
            return done, last
        for record in records:
            b64decode(record["Data"])
        entries = [{"ReceiptHandle": record["ReceiptHandle"]} for record in records]
        answer = call("AcknowledgeQueueRecords", dumps({"QueueARN": arn, "Entries": entries}))
        done += len(records) - len(answer.get("Failed") or ())
        last = time.perf_counter()


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

    A task is ``(kind, target, arg)``: ``("boto3" | "lean", server_url, queue_arn)`` or
    ``("redis", port, (stream, group))``.  The answer is ``(records, perf_counter at start, at the last ack)``
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
                elif kind == "lean":
                    client = LeanKinesis(target)
                else:
                    import redis

                    client = redis.Redis(host="127.0.0.1", port=target)
                clients[(kind, target)] = client
            # warm the connection (and boto3's operation models) before the clock starts
            if kind == "boto3":
                client.describe_queue(QueueARN=arg)
            elif kind == "lean":
                client.call("DescribeQueue", orjson.dumps({"QueueARN": arg}))
            else:
                client.ping()
            barrier.wait(BARRIER_TIMEOUT_S)
            began = time.perf_counter()
            if kind == "boto3":
                done, last = drain_boto3(client, arg)
            elif kind == "lean":
                done, last = drain_lean(client, arg)
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the embedded engine -------------------------------------------------------------------------


class EmbeddedShardstream:
    """An in-process Engine with an on-demand stream holding the records, and queues on it.

    Parameters
    ----------
    keys, data : list
        The records, put with ``put_batch`` 10,000 at a time.
    """

    def __init__(self, keys: list, data: list):
        from shardstream import Engine

        self.engine = Engine()
        self.stream = self.engine.create_stream("bench", stream_mode="ON_DEMAND")
        for start in range(0, len(keys), 10_000):
            self.stream.put_batch(keys[start : start + 10_000], data[start : start + 10_000])
        self._serial = 0

    def new_queue(self) -> str:
        """A fresh queue from TRIM_HORIZON of the stream; its ARN."""
        self._serial += 1
        config = [{"StreamARN": self.stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        attrs = {"VisibilityTimeoutSeconds": QUEUE_VISIBILITY_S}
        return self.engine.create_queue(f"q{self._serial}", config, attrs)["QueueDescription"]["QueueARN"]

    def drain_batches(self, arn: str, batch: int) -> tuple[int, float]:
        """``receive_batch(batch)`` + ``settle(handles, "ack")`` until empty; (records acked, seconds)."""
        queue = self.engine.queues.queue(arn)
        receive, settle = queue.receive_batch, queue.settle
        done, last = 0, None
        began = time.perf_counter()
        while True:
            table = receive(batch)
            if not table.num_rows:
                break
            done += int(settle(table.column("receipt_handle").to_pylist(), "ack").sum())
            last = time.perf_counter()
        return done, last - began

    def drain_boto3_shape(self, arn: str) -> tuple[int, float]:
        """``receive_queue_records`` (10, 1 s wait) + ``acknowledge_queue_records`` until empty.

        The seconds end at the last acknowledgement (the final empty wait is not counted).
        """
        receive, acknowledge = self.engine.receive_queue_records, self.engine.acknowledge_queue_records
        done, last = 0, None
        began = time.perf_counter()
        while True:
            records = receive(arn, limit=HTTP_LIMIT, wait_time_seconds=1)["QueueRecords"]
            if not records:
                break
            answer = acknowledge(arn, [{"ReceiptHandle": r["ReceiptHandle"]} for r in records])
            done += len(records) - len(answer.get("Failed") or ())
            last = time.perf_counter()
        return done, last - began

    def close(self) -> None:
        """Close the engine."""
        self.engine.close()


# -- workloads, rounds, report -------------------------------------------------------------------


class Row:
    """One line of the report: our workload and its Redis baselines, each ``fn() -> (records, seconds)``.

    Parameters
    ----------
    section : str
    name : str
    records : int
        What every drain must acknowledge.
    ours : callable
    baselines : dict
        Label (``redis``, ``redis-aof``) -> callable; ``redis`` is the headline's baseline.
    baseline_name : str
        What the baselines do.
    """

    def __init__(self, section: str, name: str, records: int, ours, baselines: dict, baseline_name: str):
        self.section = section
        self.name = name
        self.records = records
        self.baseline_name = baseline_name
        self._fns = {"shardstream": ours, **baselines}
        self.rates: dict = {label: [] for label in self._fns}

    def run(self, reverse: bool) -> None:
        """Time every side once (back to back) and keep records/s."""
        labels = list(self._fns)
        for label in reversed(labels) if reverse else labels:
            done, seconds = self._fns[label]()
            if done != self.records:
                raise RuntimeError(f"{self.name} / {label}: acknowledged {done} of {self.records} records")
            self.rates[label].append(done / seconds)

    def forget(self) -> None:
        """Drop what the warm-up rounds measured."""
        for rates in self.rates.values():
            rates.clear()

    def median_ratio(self, baseline: str) -> float:
        """Median over rounds of shardstream records/s / ``baseline`` records/s."""
        return statistics.median(a / b for a, b in zip(self.rates["shardstream"], self.rates[baseline]))


class Bench:
    """Everything one run needs: the Redis servers, both shardstreams, the client pools; builds the rows.

    Parameters
    ----------
    args : argparse.Namespace
    scratch : str
        Directory for the Redis servers' files.
    """

    def __init__(self, args, scratch: str):
        self.args = args
        keys, data = list_records(max(args.records, args.http_records))
        self.redis = [RedisServer(scratch, appendonly=False)]
        if args.aof:
            self.redis.append(RedisServer(scratch, appendonly=True))
        self.embedded = EmbeddedShardstream(keys[: args.records], data[: args.records])
        self.served = ServedShardstream(keys[: args.http_records], data[: args.http_records])
        self.pools = {k: ClientPool(k) for k in args.clients}
        self._admin = {s.label: s.client(unix=True) for s in self.redis}
        self._local = {s.label: s.client(unix=True) for s in self.redis}
        self._groups = 0
        for server in self.redis:  # a Redis stream per record count
            for n in {args.records, args.http_records}:
                server.fill(redis_stream(n), keys[:n], data[:n])

    def _redis_drain(self, server: RedisServer, n: int, count: int, k: int | None):
        def run() -> tuple[int, float]:
            admin = self._admin[server.label]
            self._groups += 1
            group = f"g{self._groups}"
            stream = redis_stream(n)
            admin.xgroup_create(stream, group, id="0")
            try:
                if k is None:
                    began = time.perf_counter()
                    done, last = drain_redis(self._local[server.label], stream, group, "c0", count)
                    return done, last - began
                return self.pools[k].run("redis", server.port, (stream, group))
            finally:
                admin.xgroup_destroy(stream, group)

        return run

    def _embedded(self, batch: int | None):
        def run() -> tuple[int, float]:
            arn = self.embedded.new_queue()
            try:
                if batch is None:
                    return self.embedded.drain_boto3_shape(arn)
                return self.embedded.drain_batches(arn, batch)
            finally:
                self.embedded.engine.delete_queue(arn)

        return run

    def _served(self, kind: str, k: int):
        def run() -> tuple[int, float]:
            arn = self.served.new_queue()
            try:
                return self.pools[k].run(kind, self.served.url, arn)
            finally:
                self.served.delete_queue(arn)

        return run

    def rows(self) -> list:
        """The report's rows, in order."""
        n, m = self.args.records, self.args.http_records
        rows = []
        for b in EMBEDDED_BATCHES:
            rows.append(
                Row(
                    "embedded",
                    f'receive_batch({b}) + settle(handles, "ack")',
                    n,
                    self._embedded(b),
                    {s.label: self._redis_drain(s, n, b, None) for s in self.redis},
                    f"XREADGROUP COUNT {b} + XACK, unix socket",
                )
            )
        rows.append(
            Row(
                "embedded",
                "receive_queue_records + acknowledge_queue_records (10)",
                n,
                self._embedded(None),
                {s.label: self._redis_drain(s, n, HTTP_LIMIT, None) for s in self.redis},
                f"XREADGROUP COUNT {HTTP_LIMIT} + XACK, unix socket",
            )
        )
        for k in self.args.clients:
            for kind, what in (("boto3", "boto3"), ("lean", "http.client + orjson")):
                rows.append(
                    Row(
                        "HTTP",
                        f"Receive + Acknowledge (10), {what}, {k} client process{'es' * (k > 1)}",
                        m,
                        self._served(kind, k),
                        {s.label: self._redis_drain(s, m, HTTP_LIMIT, k) for s in self.redis},
                        f"XREADGROUP COUNT {HTTP_LIMIT} + XACK, TCP, {k} redis-py process{'es' * (k > 1)}",
                    )
                )
        return rows

    def versions(self) -> str:
        """Python, shardstream, redis-server, redis-py (and hiredis), boto3, aiohttp."""
        import aiohttp
        import boto3
        import redis

        import shardstream

        try:
            import hiredis

            parser = f"hiredis {hiredis.__version__}"
        except ImportError:
            parser = "no hiredis (pure-Python parser)"
        return (
            f"Python {platform.python_version()}, shardstream {shardstream.__version__}, redis-server "
            f"{self.redis[0].version()}, redis-py {redis.__version__} ({parser}), boto3 {boto3.__version__}, "
            f"aiohttp {aiohttp.__version__}"
        )

    def close(self) -> None:
        """Stop everything started."""
        for pool in self.pools.values():
            pool.close()
        for client in [*self._admin.values(), *self._local.values()]:
            client.close()
        self.served.stop()
        self.embedded.close()
        for server in self.redis:
            server.stop()


def commit() -> str:
    """The commit, and a digest of any uncommitted change in src/ (read-only git calls)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    root = os.path.dirname(os.path.dirname(HERE))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "src"], cwd=root, env=env, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted src/ changes {hashlib.sha1(diff).hexdigest()[:8]}" if diff else head


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def fmt_rate(x: float) -> str:
    """Records/s, short."""
    return f"{x / 1e3:,.1f} k" if x >= 1e3 else f"{x:,.0f}"


def print_report(rows: list, labels: list) -> None:
    """The Markdown tables: medians and ratios, then every round's records/s."""
    aof = "redis-aof" in labels
    head = "| Workload | shardstream rec/s | Redis baseline | Redis rec/s | **shardstream / Redis** |"
    rule = "|---|---:|---|---:|---:|"
    if aof:
        head += " Redis AOF rec/s | shardstream / Redis AOF |"
        rule += "---:|---:|"
    for section in dict.fromkeys(r.section for r in rows):
        print(f"\n### {section}\n\n{head}\n{rule}")
        for row in (r for r in rows if r.section == section):
            med = {label: statistics.median(v) for label, v in row.rates.items()}
            line = (
                f"| {row.name} | {fmt_rate(med['shardstream'])} | {row.baseline_name} | "
                f"{fmt_rate(med['redis'])} | **{row.median_ratio('redis'):.2f}** |"
            )
            if aof:
                line += f" {fmt_rate(med['redis-aof'])} | {row.median_ratio('redis-aof'):.2f} |"
            print(line)
    print("\n### Every round (records/s, thousands)\n")
    print("| Workload | side | rounds | spread (max/min) |\n|---|---|---|---:|")
    for row in rows:
        for label, rates in row.rates.items():
            print(
                f"| {row.name} | {label} | {', '.join(f'{r / 1e3:.1f}' for r in rates)} | "
                f"{max(rates) / min(rates):.2f} |"
            )


def main(argv=None) -> None:
    """Parse the options, run the rounds, print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="records per embedded drain")
    parser.add_argument("--http-records", type=int, default=20_000, help="records per drain over HTTP")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--clients", default="1,4", help="client processes for the HTTP rows (comma-separated)")
    parser.add_argument("--no-aof", dest="aof", action="store_false", help="skip the appendonly Redis")
    parser.add_argument("--dir", default=None, help="scratch directory for Redis (default: the temp dir)")
    args = parser.parse_args(argv)
    args.clients = [int(k) for k in args.clients.split(",") if k]
    if shutil.which("redis-server") is None:
        sys.exit("redis-server not found (Debian: apt-get install redis-server)")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="queue-vs-redis-", dir=args.dir) as scratch:
        bench = Bench(args, scratch)
        try:
            rows = bench.rows()
            for number in range(args.warmup + args.rounds):
                if number == args.warmup:
                    for row in rows:
                        row.forget()
                for row in reversed(rows) if number % 2 else rows:
                    row.run(reverse=bool(number % 2))
                print(f"round {number + 1}/{args.warmup + args.rounds} done", file=sys.stderr, flush=True)
            versions = bench.versions()
        finally:
            bench.close()
    labels = [s for s in rows[0].rates if s != "shardstream"]
    print("## Queue receive + acknowledge: shardstream vs Redis Streams consumer groups\n")
    print(
        f"- {args.records:,} records per embedded drain, {args.http_records:,} per HTTP drain, 100-byte payloads; "
        f"{args.rounds} rounds (+{args.warmup} warm-up); medians; ratios are medians of per-round ratios "
        "(> 1: shardstream ahead)"
    )
    print(
        '- Redis: no persistence (--save "" --appendonly no)'
        + ("; AOF column: --appendonly yes --appendfsync everysec" if args.aof else "")
    )
    print(
        f"- commit {commit()}; CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, shared); load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"- Versions: {versions}")
    print_report(rows, labels)


if __name__ == "__main__":
    main()
