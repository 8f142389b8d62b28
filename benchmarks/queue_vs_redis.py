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
- against k redis-py clients over TCP loopback doing ``XREADGROUP COUNT 10`` + ``XACK``;
- and, for the lean rows, against the same lean clients driving the *HTTP floor*
  (``queue_clients.py``): an aiohttp server that parses each body and answers canned Receive (10
  records of the real shapes) and Acknowledge bodies, the same number of calls: what the HTTP stack
  alone allows on this machine.  shardstream / floor is the share of that which the server keeps.

A multi-process drain is timed from the moment the clients leave a barrier (after connecting) to
the last acknowledgement any of them got back: the final, empty long poll each shardstream
client waits out (1 s) is not counted.  Each round runs every workload and its Redis baselines back
to back, in reversed order every other round, after ``--warmup`` untimed rounds.  The headline is
the median over rounds of the per-round ratio shardstream records/s / Redis records/s (> 1: ahead
of Redis); the records/s columns are medians of the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

from data import list_records  # noqa: E402
from queue_clients import (  # noqa: E402
    HTTP_LIMIT,
    QUEUE_VISIBILITY_S,
    ClientPool,
    FloorServer,
    ServedShardstream,
    drain_redis,
    free_port,
    stop_process,
    wait_listening,
)

EMBEDDED_BATCHES = (10, 100, 1000)


def redis_stream(n: int) -> str:
    """The Redis stream holding the first ``n`` records."""
    return f"bench-{n}"


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
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


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
        self.floor = FloorServer()
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

    def _floor(self, k: int):
        def run() -> tuple[int, float]:
            return self.pools[k].run("floor", self.floor.url, self.args.http_records // (HTTP_LIMIT * k))

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
                baselines = {s.label: self._redis_drain(s, m, HTTP_LIMIT, k) for s in self.redis}
                if kind == "lean":
                    baselines["floor"] = self._floor(k)
                rows.append(
                    Row(
                        "HTTP",
                        f"Receive + Acknowledge (10), {what}, {k} client process{'es' * (k > 1)}",
                        m,
                        self._served(kind, k),
                        baselines,
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
        self.floor.stop()
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
        part = [r for r in rows if r.section == section]
        floor = any("floor" in r.rates for r in part)
        extra = (" HTTP floor rec/s | shardstream / floor |", "---:|---:|") if floor else ("", "")
        print(f"\n### {section}\n\n{head}{extra[0]}\n{rule}{extra[1]}")
        for row in part:
            med = {label: statistics.median(v) for label, v in row.rates.items()}
            line = (
                f"| {row.name} | {fmt_rate(med['shardstream'])} | {row.baseline_name} | "
                f"{fmt_rate(med['redis'])} | **{row.median_ratio('redis'):.2f}** |"
            )
            if aof:
                line += f" {fmt_rate(med['redis-aof'])} | {row.median_ratio('redis-aof'):.2f} |"
            if floor:
                line += (
                    f" {fmt_rate(med['floor'])} | {row.median_ratio('floor'):.2f} |" if "floor" in med else " — | — |"
                )
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
    args.http_records -= args.http_records % (HTTP_LIMIT * math.lcm(*args.clients))  # whole floor pairs per client
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
