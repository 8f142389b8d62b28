"""HTTP load for shardstream's Kinesis-compatible server, and the stack's floor.

Roles::

    python benchmarks/server_load.py bare --port P
        an aiohttp server on 127.0.0.1 whose POST handler reads the body, parses it with
        orjson and answers a canned body of the same shape and size as the real server's
        (PutRecords: 500 entries; GetRecords: 10,000 records of 100-byte data, 56-digit
        sequence numbers): the HTTP stack's floor.
    python benchmarks/server_load.py load --url U --op putrecords|getrecords --seconds S --stream NAME
        one keep-alive connection (http.client), pre-built requests with a well-formed dummy
        SigV4 header, sent back to back for S seconds; prints JSON
        {"requests", "records", "seconds", "response_bytes"}.
    python benchmarks/server_load.py report [--seconds 3] [--rounds 3]
        starts ``shardstream serve`` and the bare server (subprocesses, loopback), runs every
        workload once per round (real and bare back to back), plus boto3 put_records /
        get_records loops in this process, and prints a Markdown table of medians and ratios.

GetRecords reads one 1-shard stream pre-filled with 10,000 records through PutRecords; the
TRIM_HORIZON iterator is taken once before the timed loop and reused (it names a position, so
each call returns the same 10,000 records).  ``benchmarks/bench_server.py`` wraps the same
pieces in pytest-benchmark.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit

import orjson

HERE = os.path.abspath(__file__)
TARGET = "Kinesis_20131202."
JSON_CT = "application/x-amz-json-1.1"
# well formed, never verified: the server's default auth mode checks presence only
# (the same header as tests/server/test_protocol.py)
DUMMY_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}

PUT_BATCH = 500  # records per PutRecords
GET_LIMIT = 10_000  # records per GetRecords
RECORD_BYTES = 100
PUT_STREAM = "bench-put"  # 4 shards, receives the PutRecords load
GET_STREAM = "bench-get"  # 1 shard, pre-filled with GET_LIMIT records
PUT_SHARDS = 4


# -- payloads (seeded, shared by the load generator, the bare server and the boto3 loops) ---------


def make_records(n: int = PUT_BATCH, seed: int = 7) -> list[tuple[str, bytes]]:
    """``n`` (partition key, 100-byte payload) pairs; keys of 16-36 ASCII characters."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(n):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 36)))
        out.append((key, rng.randbytes(RECORD_BYTES)))
    return out


def put_records_body(stream: str, records) -> bytes:
    return orjson.dumps(
        {
            "StreamName": stream,
            "Records": [{"Data": base64.b64encode(d).decode("ascii"), "PartitionKey": k} for k, d in records],
        }
    )


def headers_for(operation: str) -> dict:
    return {"Content-Type": JSON_CT, "X-Amz-Target": TARGET + operation, **DUMMY_AUTH}


def _seq(i: int) -> str:
    # the shape of the real server's 56-digit sequence numbers
    return "4" + f"{i:055d}"


def canned_put_response(n: int = PUT_BATCH) -> bytes:
    return orjson.dumps(
        {
            "FailedRecordCount": 0,
            "Records": [
                {"SequenceNumber": _seq(49_000_000_000 + i), "ShardId": f"shardId-{i % PUT_SHARDS:012d}"}
                for i in range(n)
            ],
        }
    )


def canned_get_response(n: int = GET_LIMIT) -> bytes:
    records = make_records(n, seed=11)
    ts = 1_700_000_000.123
    return orjson.dumps(
        {
            "Records": [
                {
                    "SequenceNumber": _seq(49_000_000_000 + i),
                    "ApproximateArrivalTimestamp": ts + i / 1000,
                    "Data": base64.b64encode(d).decode("ascii"),
                    "PartitionKey": k,
                }
                for i, (k, d) in enumerate(records)
            ],
            "NextShardIterator": "A" * 200,
            "MillisBehindLatest": 0,
        }
    )


# -- role: bare server ---------------------------------------------------------------------------


def run_bare(port: int) -> None:
    from aiohttp import web

    canned = {
        TARGET + "PutRecords": canned_put_response(),
        TARGET + "GetRecords": canned_get_response(),
        TARGET + "GetShardIterator": orjson.dumps({"ShardIterator": "A" * 200}),
    }
    # static headers of the real server's sizes (request id, id-2), computed once
    static = {
        "Content-Type": JSON_CT,
        "x-amzn-RequestId": "00000000-0000-4000-8000-000000000000",
        "x-amz-id-2": base64.b64encode(bytes(72)).decode("ascii"),
    }

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        orjson.loads(body)  # parse, as the real server does; the result is not used
        return web.Response(status=200, body=canned.get(request.headers.get("X-Amz-Target", ""), b"{}"), headers=static)

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("POST", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- role: load generator ------------------------------------------------------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url: str, timeout: float = 30.0):
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)

    def post(self, body: bytes, headers: dict) -> bytes:
        self.conn.request("POST", "/", body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")
        return data

    def call(self, operation: str, params: dict) -> dict:
        data = self.post(orjson.dumps(params), headers_for(operation))
        return orjson.loads(data) if data else {}

    def close(self) -> None:
        self.conn.close()


def shard_iterator(conn: Conn, stream: str) -> str:
    out = conn.call(
        "GetShardIterator",
        {"StreamName": stream, "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"},
    )
    return out["ShardIterator"]


def run_load(url: str, op: str, seconds: float, stream: str) -> dict:
    conn = Conn(url)
    try:
        if op == "putrecords":
            body = put_records_body(stream, make_records())
            headers = headers_for("PutRecords")
            per_request, failed_of = PUT_BATCH, _json_failed
            first = orjson.loads(conn.post(body, headers))  # warm-up, and check the answer's shape
            if first.get("FailedRecordCount") != 0 or len(first["Records"]) != PUT_BATCH:
                raise RuntimeError("PutRecords: unexpected answer")
        elif op == "getrecords":
            it = shard_iterator(conn, stream)
            body = orjson.dumps({"ShardIterator": it, "Limit": GET_LIMIT})
            headers = headers_for("GetRecords")
            per_request, failed_of = GET_LIMIT, lambda answer: 0
            first = orjson.loads(conn.post(body, headers))
            if len(first["Records"]) != GET_LIMIT:
                raise RuntimeError(f"GetRecords: {len(first['Records'])} records, expected {GET_LIMIT}")
        else:
            raise ValueError(op)
        return timed_posts(conn, body, headers, seconds, per_request, failed_of)
    finally:
        conn.close()


def _json_failed(answer: bytes) -> int:
    """PutRecords entries a JSON answer refused (e.g. full shards)."""
    return 0 if answer.startswith(b'{"FailedRecordCount":0,') else orjson.loads(answer)["FailedRecordCount"]


def timed_posts(conn, body: bytes, headers: dict, seconds: float, per_request: int, failed_of) -> dict:
    """POST ``body`` back to back for ``seconds``; records are ``per_request`` a request less ``failed_of(answer)``."""
    post = conn.post
    requests = failed = nbytes = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        answer = post(body, headers)
        nbytes = len(answer)
        failed += failed_of(answer)
        requests += 1
        if time.perf_counter() >= deadline:
            break
    return {
        "requests": requests,
        "records": requests * per_request - failed,
        "failed": failed,
        "seconds": time.perf_counter() - t0,
        "response_bytes": nbytes,
        "request_bytes": len(body),
    }


# -- orchestration (used by report and by bench_server.py) ---------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(proc: subprocess.Popen, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def server(kind: str):
    """Start the real (``shardstream serve``) or the bare server in a subprocess; yield its URL."""
    port = free_port()
    if kind == "real":
        cmd = [sys.executable, "-m", "shardstream", "serve", "--host", "127.0.0.1", "--port", str(port)]
    elif kind == "bare":
        cmd = [sys.executable, HERE, "bare", "--port", str(port)]
    else:
        raise ValueError(kind)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        _wait_port(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def setup_real(url: str) -> None:
    """Create the put stream (4 shards) and the get stream (1 shard, filled with GET_LIMIT records)."""
    conn = Conn(url)
    try:
        conn.call("CreateStream", {"StreamName": PUT_STREAM, "ShardCount": PUT_SHARDS})
        conn.call("CreateStream", {"StreamName": GET_STREAM, "ShardCount": 1})
        for name in (PUT_STREAM, GET_STREAM):
            for _ in range(200):
                if (
                    conn.call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]["StreamStatus"]
                    == "ACTIVE"
                ):
                    break
                time.sleep(0.05)
        recs = make_records(GET_LIMIT, seed=11)
        for i in range(0, GET_LIMIT, PUT_BATCH):
            out = orjson.loads(
                conn.post(put_records_body(GET_STREAM, recs[i : i + PUT_BATCH]), headers_for("PutRecords"))
            )
            if out["FailedRecordCount"]:
                raise RuntimeError("pre-fill: failed records")
    finally:
        conn.close()


def load(url: str, op: str, seconds: float, stream: str, timeout: float | None = None) -> dict:
    """Run the load generator in a subprocess; its parsed JSON result."""
    cmd = [sys.executable, HERE, "load", "--url", url, "--op", op, "--seconds", str(seconds), "--stream", stream]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or seconds + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def boto3_put_loop(client, seconds: float) -> dict:
    entries = [{"Data": d, "PartitionKey": k} for k, d in make_records()]
    client.put_records(StreamName=PUT_STREAM, Records=entries)  # warm-up
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        out = client.put_records(StreamName=PUT_STREAM, Records=entries)
        n += len(out["Records"]) - out["FailedRecordCount"]
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - t0
    return {"records": n, "seconds": elapsed}


def boto3_get_loop(client, seconds: float) -> dict:
    it = client.get_shard_iterator(
        StreamName=GET_STREAM, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    first = client.get_records(ShardIterator=it, Limit=GET_LIMIT)  # warm-up
    if len(first["Records"]) != GET_LIMIT:
        raise RuntimeError("boto3 get_records: short page")
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        n += len(client.get_records(ShardIterator=it, Limit=GET_LIMIT)["Records"])
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - t0
    return {"records": n, "seconds": elapsed}


def rate(result: dict) -> float:
    return result["records"] / result["seconds"]


# -- role: report ------------------------------------------------------------------------------


def _env() -> str:
    import aiohttp
    import boto3

    import shardstream

    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    la = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"CPU: {cpu}, {os.cpu_count()} cores; load average {la}; Python {platform.python_version()}; "
        f"shardstream {getattr(shardstream, '__version__', '?')}, aiohttp {aiohttp.__version__}, "
        f"orjson {orjson.__version__}, boto3 {boto3.__version__}"
    )


def report(seconds: float, rounds: int, boto3_seconds: float) -> None:
    from shardstream.testing import boto3_client

    results: dict[str, list[float]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    ratios: dict[str, list[float]] = {"putrecords": [], "getrecords": []}
    with server("real") as real_url, server("bare") as bare_url:
        setup_real(real_url)
        client = boto3_client(real_url)
        for r in range(rounds):
            for op, stream in (("putrecords", PUT_STREAM), ("getrecords", GET_STREAM)):
                order = ("real", "bare") if r % 2 == 0 else ("bare", "real")  # alternate who goes first
                got = {}
                for kind in order:
                    res = load(real_url if kind == "real" else bare_url, op, seconds, stream)
                    got[kind] = rate(res)
                    results.setdefault(f"{op}/{kind}", []).append(got[kind])
                    sizes[f"{op}/{kind}"] = (res["request_bytes"], res["response_bytes"])
                ratios[op].append(got["real"] / got["bare"])
            results.setdefault("boto3/put_records", []).append(rate(boto3_put_loop(client, boto3_seconds)))
            results.setdefault("boto3/get_records", []).append(rate(boto3_get_loop(client, boto3_seconds)))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

    def med(key):
        return statistics.median(results[key])

    def rounds_of(key):
        return ", ".join(f"{x:,.0f}" for x in results[key])

    print(
        f"# shardstream HTTP server: {rounds} rounds, load runs of {seconds:g} s, boto3 loops of {boto3_seconds:g} s\n"
    )
    print(_env() + "\n")
    print("| Workload | real records/s (median) | bare records/s (median) | real / bare (median of per-round ratios) |")
    print("|---|---:|---:|---:|")
    for op, label in (
        ("putrecords", f"PutRecords ({PUT_BATCH} x {RECORD_BYTES} B)"),
        ("getrecords", f"GetRecords ({GET_LIMIT:,} records)"),
    ):
        print(
            f"| {label} | {med(op + '/real'):,.0f} | {med(op + '/bare'):,.0f} | "
            f"{statistics.median(ratios[op]):.2f} ({', '.join(f'{x:.2f}' for x in ratios[op])}) |"
        )
    print()
    print("| boto3 (in process, against the real server) | records/s (median) |")
    print("|---|---:|")
    print(f"| put_records ({PUT_BATCH} x {RECORD_BYTES} B) | {med('boto3/put_records'):,.0f} |")
    print(f"| get_records (Limit {GET_LIMIT:,}) | {med('boto3/get_records'):,.0f} |")
    print()
    print("Per-round records/s:\n")
    for key in results:
        print(f"- {key}: {rounds_of(key)}")
    print()
    print("Request / response body bytes (real vs bare should match closely):\n")
    for key, (req, resp) in sizes.items():
        print(f"- {key}: request {req:,} B, response {resp:,} B")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="role", required=True)
    b = sub.add_parser("bare", help="the bare aiohttp endpoint (the stack's floor)")
    b.add_argument("--port", type=int, required=True)
    lo = sub.add_parser("load", help="the load generator (one keep-alive connection)")
    lo.add_argument("--url", required=True)
    lo.add_argument("--op", choices=("putrecords", "getrecords"), required=True)
    lo.add_argument("--seconds", type=float, default=3.0)
    lo.add_argument("--stream", default=None)
    rp = sub.add_parser("report", help="run everything, print a Markdown table")
    rp.add_argument("--seconds", type=float, default=3.0, help="seconds per load run (default 3)")
    rp.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    rp.add_argument("--boto3-seconds", type=float, default=2.0, help="seconds per boto3 loop (default 2)")
    args = p.parse_args(argv)
    if args.role == "bare":
        run_bare(args.port)
    elif args.role == "load":
        stream = args.stream or (PUT_STREAM if args.op == "putrecords" else GET_STREAM)
        print(json.dumps(run_load(args.url, args.op, args.seconds, stream)))
    else:
        report(args.seconds, args.rounds, args.boto3_seconds)


if __name__ == "__main__":
    main()
