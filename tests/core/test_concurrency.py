"""Many writer threads and a concurrent reader: nothing lost, duplicated or reordered."""

from __future__ import annotations

import collections
import threading

from conftest import shard_id

import shardstream

THREADS = 4
ROUNDS = 60
KEYS_PER_THREAD = 6


def _writer(s, tid, barrier, errors):
    try:
        barrier.wait()
        n = 0
        for r in range(ROUNDS):
            if r % 3 == 0:
                key = f"t{tid}-k{n % KEYS_PER_THREAD}"
                s.put_record(f"{tid}:{n}".encode(), key)
                n += 1
            elif r % 3 == 1:
                keys = [f"t{tid}-k{(n + i) % KEYS_PER_THREAD}" for i in range(25)]
                s.put_batch(keys, [f"{tid}:{n + i}".encode() for i in range(25)])
                n += 25
            else:
                entries = [{"Data": f"{tid}:{n + i}".encode(), "PartitionKey": f"t{tid}-k{(n + i) % KEYS_PER_THREAD}"}
                           for i in range(10)]
                assert s.put_records(entries)["FailedRecordCount"] == 0
                n += 10
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def _expected():
    out = collections.Counter()
    for tid in range(THREADS):
        n = 0
        for r in range(ROUNDS):
            count = (1, 25, 10)[r % 3]
            for i in range(count):
                out[(f"t{tid}-k{(n + i) % KEYS_PER_THREAD}", f"{tid}:{n + i}".encode())] += 1
            n += count
    return out


def _reader(s, shard_ids, stop, seen, errors):
    try:
        its = {sid: s.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"] for sid in shard_ids}
        draining = False
        while True:
            progressed = False
            for sid in shard_ids:
                resp = s.get_records(its[sid], 50)
                its[sid] = resp["NextShardIterator"]
                seen[sid].extend((r["SequenceNumber"], r["PartitionKey"], r["Data"]) for r in resp["Records"])
                progressed |= bool(resp["Records"])
            if draining and not progressed:
                return
            if stop.is_set():
                draining = True
    except BaseException as exc:  # pragma: no cover
        errors.append(exc)


def test_concurrent_writers_and_reader():
    e = shardstream.Engine()
    s = e.create_stream("conc", 3)
    sids = [shard_id(i) for i in range(3)]
    barrier = threading.Barrier(THREADS)
    errors: list = []
    stop = threading.Event()
    seen = {sid: [] for sid in sids}
    reader = threading.Thread(target=_reader, args=(s, sids, stop, seen, errors))
    writers = [threading.Thread(target=_writer, args=(s, t, barrier, errors)) for t in range(THREADS)]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    stop.set()
    reader.join(60)
    assert not reader.is_alive() and not any(w.is_alive() for w in writers)
    assert errors == []

    table = s.read_table()
    rows = table.to_pylist()
    assert collections.Counter((r["partition_key"], r["data"]) for r in rows) == _expected()
    by_shard = collections.defaultdict(list)
    for r in rows:
        by_shard[r["shard_id"]].append(r)
    for sid, recs in by_shard.items():
        nums = [int(r["sequence_number"]) for r in recs]
        assert nums == sorted(nums) and len(set(nums)) == len(nums)
    # per-thread order per partition key is preserved (one key -> one shard)
    per_key = collections.defaultdict(list)
    for r in rows:
        tid, n = r["data"].decode().split(":")
        per_key[r["partition_key"]].append(int(n))
    for key, ns in per_key.items():
        assert ns == sorted(ns), key
    # the concurrent reader saw every record exactly once, in order
    for sid in sids:
        got = seen[sid]
        nums = [int(q) for q, _, _ in got]
        assert nums == sorted(nums) and len(set(nums)) == len(nums)
        assert [(q, k, d) for q, k, d in got] == [
            (r["sequence_number"], r["partition_key"], r["data"]) for r in by_shard.get(sid, [])]


def test_concurrent_batches_on_disjoint_and_shared_shards():
    e = shardstream.Engine()
    s = e.create_stream("conc2", 8)
    barrier = threading.Barrier(THREADS)
    results: dict[int, list] = {}
    errors: list = []

    def work(tid):
        try:
            barrier.wait()
            out = []
            for b in range(20):
                keys = [f"w{tid}-{b}-{i}" for i in range(100)]
                t = s.put_batch(keys, [f"{tid}/{b}/{i}".encode() for i in range(100)])
                out.extend(zip(keys, t.column("shard_id").to_pylist(), t.column("sequence_number").to_pylist()))
            results[tid] = out
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    read = {r["sequence_number"]: r for r in s.read_table().to_pylist()}
    assert len(read) == THREADS * 20 * 100
    for tid, out in results.items():
        for key, sid, seq in out:
            assert read[seq]["partition_key"] == key and read[seq]["shard_id"] == sid
        per_shard = collections.defaultdict(list)
        for _, sid, seq in out:
            per_shard[sid].append(int(seq))
        for nums in per_shard.values():
            assert nums == sorted(nums)
