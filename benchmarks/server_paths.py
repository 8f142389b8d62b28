"""Two server paths against their in-process / JSON counterparts, interleaved in one run.

Roles::

    python benchmarks/server_paths.py report [--seconds 3] [--rounds 3] [--clients 16]
        1. durable sync PutRecord: ``shardstream serve --data-dir D --durability sync`` (a
           subprocess) loaded by ``--clients`` concurrent keep-alive HTTP clients (threads of a
           load-generator subprocess), one 100-byte record per PutRecord, against the same number
           of threads calling ``stream.put_record`` in this process on an
           ``Engine(data_dir=..., durability="sync")``: puts/s and HTTP / in-process; plus the same
           clients against the in-memory server, the HTTP stack's ceiling for this workload.
        2. PutRecords (500 x 100 B) over CBOR (``application/x-amz-cbor-1.1``, raw byte strings)
           against the same body over JSON (base64), one keep-alive connection each, same
           in-memory server: records/s and CBOR / JSON.
        Prints a Markdown table of medians and the median of per-round ratios.
    python benchmarks/server_paths.py clients --url U --clients N --seconds S --stream NAME
        the load generator of 1 (prints JSON {"puts", "seconds"}).
    python benchmarks/server_paths.py cbor-load --url U --seconds S --stream NAME
        PutRecords over CBOR on one connection (prints server_load.py's JSON).

Each round runs the workloads back to back, alternating which side goes first.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import orjson

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

import server_load as sl  # noqa: E402

CBOR_CT = "application/x-amz-cbor-1.1"
DURABLE_STREAM = "bench-sync"
DURABLE_SHARDS = 4


# -- role: concurrent PutRecord clients ---------------------------------------------------------


def run_clients(url: str, clients: int, seconds: float, stream: str) -> dict:
    headers = sl.headers_for("PutRecord")
    bodies = [
        [
            orjson.dumps({"StreamName": stream, "Data": base64.b64encode(d).decode(), "PartitionKey": k})
            for k, d in sl.make_records(64, seed=100 + c)
        ]
        for c in range(clients)
    ]
    counts = [0] * clients
    errors: list = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(c: int) -> None:
        conn = sl.Conn(url)
        try:
            try:
                conn.post(bodies[c][0], headers)  # warm-up (connection open)
            except BaseException:
                start.abort()  # no one waits forever for a client that failed
                raise
            start.wait()
            i = 0
            while time.perf_counter() < stop_at[0]:
                conn.post(bodies[c][i % 64], headers)
                i += 1
            counts[c] = i
        except Exception as exc:  # reported, not lost in the thread
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    try:
        start.wait()
    except threading.BrokenBarrierError:
        for t in threads:
            t.join()
        raise RuntimeError(f"a client failed: {errors[:1]}") from None
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[0])
    return {"puts": sum(counts), "seconds": elapsed}


def in_process_puts(stream, clients: int, seconds: float) -> dict:
    """``clients`` threads calling ``stream.put_record`` for ``seconds``: the in-process rate."""
    data = [sl.make_records(64, seed=100 + c) for c in range(clients)]
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [time.perf_counter() + 3600]

    def worker(c: int) -> None:
        put = stream.put_record
        recs = data[c]
        start.wait()
        i = 0
        while time.perf_counter() < stop_at[0]:
            k, d = recs[i % 64]
            put(d, k)
            i += 1
        counts[c] = i

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    return {"puts": sum(counts), "seconds": time.perf_counter() - t0}


# -- role: PutRecords over CBOR --------------------------------------------------------------------


def cbor_body(stream: str, records) -> bytes:
    import cbor2

    return cbor2.dumps({"StreamName": stream, "Records": [{"Data": d, "PartitionKey": k} for k, d in records]})


def run_cbor_load(url: str, seconds: float, stream: str) -> dict:
    from shardstream.server.codec import decode_cbor

    conn = sl.Conn(url)
    headers = {**sl.headers_for("PutRecords"), "Content-Type": CBOR_CT}
    body = cbor_body(stream, sl.make_records())
    try:
        first = decode_cbor(conn.post(body, headers))
        if first.get("FailedRecordCount") != 0 or len(first["Records"]) != sl.PUT_BATCH:
            raise RuntimeError("CBOR PutRecords: unexpected answer")
        ok_prefix = b"\xa2\x71FailedRecordCount\x00"  # entries refused (full shards) are not records
        return sl.timed_posts(
            conn,
            body,
            headers,
            seconds,
            sl.PUT_BATCH,
            lambda answer: 0 if answer.startswith(ok_prefix) else decode_cbor(answer)["FailedRecordCount"],
        )
    finally:
        conn.close()


# -- orchestration -----------------------------------------------------------------------------


def _sub(args: list, timeout: float) -> dict:
    out = subprocess.run([sys.executable, HERE, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def fresh_put_stream(url: str) -> None:
    """Delete and recreate the PutRecords stream (an in-memory server with no transition time)."""
    conn = sl.Conn(url)
    try:
        conn.call("DeleteStream", {"StreamName": sl.PUT_STREAM})
        for _ in range(200):
            if sl.PUT_STREAM not in conn.call("ListStreams", {})["StreamNames"]:
                break
            time.sleep(0.05)
        conn.call("CreateStream", {"StreamName": sl.PUT_STREAM, "ShardCount": sl.PUT_SHARDS})
    finally:
        conn.close()


@contextlib.contextmanager
def durable_server(data_dir: str):
    port = sl.free_port()
    cmd = [sys.executable, "-m", "shardstream", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--data-dir", data_dir, "--durability", "sync"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        sl._wait_port(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        sl.stop(proc)


def report(seconds: float, rounds: int, clients: int) -> None:
    import shardstream

    results: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {"sync": [], "ceiling": [], "cbor": []}
    with contextlib.ExitStack() as stack:
        http_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ss-bench-http-"))
        local_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ss-bench-local-"))
        durable_url = stack.enter_context(durable_server(http_dir))
        memory_url = stack.enter_context(sl.server("real"))
        for url in (durable_url, memory_url):  # the in-memory server gives the HTTP ceiling
            conn = sl.Conn(url)
            conn.call("CreateStream", {"StreamName": DURABLE_STREAM, "ShardCount": DURABLE_SHARDS})
            conn.close()
        sl.setup_real(memory_url)
        engine = stack.enter_context(
            contextlib.closing(shardstream.Engine(data_dir=os.path.join(local_dir, "d"), durability="sync"))
        )
        engine.create_stream(DURABLE_STREAM, DURABLE_SHARDS)
        stream = engine.stream(DURABLE_STREAM)
        for r in range(rounds):
            got = {}
            for side in ("http", "local") if r % 2 == 0 else ("local", "http"):
                if side == "http":
                    res = _sub(
                        ["clients", "--url", durable_url, "--clients", str(clients), "--seconds", str(seconds)],
                        seconds + 120,
                    )
                else:
                    res = in_process_puts(stream, clients, seconds)
                got[side] = res["puts"] / res["seconds"]
                results.setdefault(f"sync/{side}", []).append(got[side])
            ratios["sync"].append(got["http"] / got["local"])
            # the HTTP ceiling of this workload here: the same clients against the in-memory server
            res = _sub(
                ["clients", "--url", memory_url, "--clients", str(clients), "--seconds", str(seconds)], seconds + 120
            )
            results.setdefault("sync/http-memory", []).append(res["puts"] / res["seconds"])
            ratios["ceiling"].append(got["http"] / results["sync/http-memory"][-1])
            fresh_put_stream(memory_url)  # empty shards each round: a long report would fill them
            got = {}
            for side in ("cbor", "json") if r % 2 == 0 else ("json", "cbor"):
                if side == "cbor":
                    res = _sub(["cbor-load", "--url", memory_url, "--seconds", str(seconds)], seconds + 120)
                else:
                    res = sl.load(memory_url, "putrecords", seconds, sl.PUT_STREAM)
                got[side] = sl.rate(res)
                results.setdefault(f"putrecords/{side}", []).append(got[side])
            ratios["cbor"].append(got["cbor"] / got["json"])
            print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

    def med(key):
        return statistics.median(results[key])

    def ratio(key):
        return f"{statistics.median(ratios[key]):.2f} ({', '.join(f'{x:.2f}' for x in ratios[key])})"

    print(f"# shardstream server paths: {rounds} rounds of {seconds:g} s per workload\n")
    print(sl._env() + "\n")
    print("| Workload | server | baseline | server / baseline (median of per-round ratios) |")
    print("|---|---:|---:|---:|")
    print(
        f"| PutRecord, 1 x 100 B, durability=sync: {clients} HTTP clients vs {clients} threads in process "
        f"(puts/s) | {med('sync/http'):,.0f} | {med('sync/local'):,.0f} | {ratio('sync')} |"
    )
    print(
        f"| the same HTTP clients: durable sync server vs in-memory server (the HTTP ceiling here, puts/s) | "
        f"{med('sync/http'):,.0f} | {med('sync/http-memory'):,.0f} | {ratio('ceiling')} |"
    )
    print(
        f"| PutRecords {sl.PUT_BATCH} x {sl.RECORD_BYTES} B: CBOR vs JSON, one connection (records/s) | "
        f"{med('putrecords/cbor'):,.0f} | {med('putrecords/json'):,.0f} | {ratio('cbor')} |"
    )
    print("\nPer-round rates:\n")
    for key, values in results.items():
        print(f"- {key}: {', '.join(f'{x:,.0f}' for x in values)}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="role", required=True)
    c = sub.add_parser("clients", help="concurrent PutRecord clients")
    c.add_argument("--url", required=True)
    c.add_argument("--clients", type=int, default=16)
    c.add_argument("--seconds", type=float, default=3.0)
    c.add_argument("--stream", default=DURABLE_STREAM)
    cb = sub.add_parser("cbor-load", help="PutRecords over CBOR on one connection")
    cb.add_argument("--url", required=True)
    cb.add_argument("--seconds", type=float, default=3.0)
    cb.add_argument("--stream", default=sl.PUT_STREAM)
    rp = sub.add_parser("report", help="run everything, print a Markdown table")
    rp.add_argument("--seconds", type=float, default=3.0)
    rp.add_argument("--rounds", type=int, default=3)
    rp.add_argument("--clients", type=int, default=16)
    args = p.parse_args(argv)
    if args.role == "clients":
        print(json.dumps(run_clients(args.url, args.clients, args.seconds, args.stream)))
    elif args.role == "cbor-load":
        print(json.dumps(run_cbor_load(args.url, args.seconds, args.stream)))
    else:
        report(args.seconds, args.rounds, args.clients)


if __name__ == "__main__":
    main()
