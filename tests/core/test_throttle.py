"""Throughput-limit emulation (shardstream.throttle): exact, on a fake clock, never sleeping."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading

import pyarrow as pa
import pytest

import shardstream
from shardstream import throttle
from shardstream.errors import (
    InvalidArgumentException,
    ProvisionedThroughputExceededException,
    ResourceNotFoundException,
    ValidationException,
)

T0 = 1_700_000_000_000
ACCOUNT = "000000000000"
MIB = 1024 * 1024
S0, S1 = "shardId-000000000000", "shardId-000000000001"


def rate_exceeded(shard: str, stream: str = "s") -> str:
    return f"Rate exceeded for shard {shard} in stream {stream} under account {ACCOUNT}."


def keys_for(shard_index: int, n: int, shards: int = 2) -> list[str]:
    """``n`` distinct partition keys that MD5-route to ``shard_index`` of a fresh ``shards``-shard stream."""
    step = 2**128 // shards
    out = []
    for i in itertools.count():
        key = f"k{i}"
        h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        if min(h // step, shards - 1) == shard_index:
            out.append(key)
            if len(out) == n:
                return out


K0, K1 = keys_for(0, 1)[0], keys_for(1, 1)[0]


@pytest.fixture
def t():
    return [T0]


@pytest.fixture
def engine(t):
    return shardstream.Engine(clock=lambda: t[0])


@pytest.fixture
def stream(engine):
    return engine.create_stream("s", shard_count=2)


@pytest.fixture
def limited(stream):
    throttle.install(stream)
    return stream


def records_in(stream) -> dict[str, int]:
    return {row["ShardId"]: row["Records"] for row in stream.shard_stats()}


def entry(key: str, data: bytes = b"x", **kw) -> dict:
    return {"Data": data, "PartitionKey": key, **kw}


def fill(stream, key: str, count: int, data: bytes = b"x") -> None:
    for _ in range(count):
        stream.put_record(data, key)


# -- limits object -----------------------------------------------------------------------


def test_limits_default_to_kinesis():
    lim = throttle.ThroughputLimits()
    assert dataclasses.asdict(lim) == {
        "write_bytes_per_s": MIB,
        "write_records_per_s": 1000,
        "read_bytes_per_s": 2 * MIB,
        "read_calls_per_s": 5,
        "iterator_calls_per_s": 5,
        "read_penalty_ms": 5000,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        lim.write_records_per_s = 1


@pytest.mark.parametrize(
    "kw", [{"write_records_per_s": 0}, {"read_calls_per_s": -1}, {"read_penalty_ms": -1}, {"write_bytes_per_s": 1.5}]
)
def test_limits_reject_bad_values(kw):
    with pytest.raises(ValueError):
        throttle.ThroughputLimits(**kw)


def test_install_sets_shadowing_attributes_and_uninstall_removes_them(stream):
    st = throttle.install(stream)
    assert stream.throttle is st and isinstance(st, throttle.StreamThrottle)
    assert st.limits == throttle.ThroughputLimits()
    for name in ("put_record", "put_records", "put_batch", "get_shard_iterator", "get_records", "get_record_batch"):
        assert name in vars(stream)
    throttle.uninstall(stream)
    assert not {"put_record", "put_records", "put_batch", "throttle"} & set(vars(stream))
    assert stream.put_record.__func__ is type(stream).put_record
    throttle.uninstall(stream)  # harmless when not installed


def test_install_rejects_non_limits(stream):
    with pytest.raises(TypeError):
        throttle.install(stream, {"write_records_per_s": 5})


# -- writes: records per second --------------------------------------------------------------


def test_put_record_1000_per_second_then_throttled(limited, t):
    fill(limited, K1, 1000)
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_record(b"x", K1)
    assert str(exc.value) == rate_exceeded(S1)
    assert exc.value.to_dict() == {"__type": "ProvisionedThroughputExceededException", "message": rate_exceeded(S1)}
    assert records_in(limited) == {S0: 0, S1: 1000}  # the throttled record was not written
    limited.put_record(b"x", K0)  # the other shard is unaffected
    t[0] += 1000
    fill(limited, K1, 1000)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)
    assert records_in(limited) == {S0: 1, S1: 2000}


def test_bucket_refills_continuously(limited, t):
    fill(limited, K1, 1000)
    t[0] += 1  # one millisecond buys one record
    limited.put_record(b"x", K1)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)
    t[0] += 250
    fill(limited, K1, 250)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)


def test_idle_bucket_holds_only_one_second(limited, t):
    t[0] += 60_000  # a minute idle still allows only one second's burst
    fill(limited, K1, 1000)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)


def test_throttled_calls_consume_nothing(limited, t):
    fill(limited, K1, 1000)
    for _ in range(50):
        with pytest.raises(ProvisionedThroughputExceededException):
            limited.put_record(b"x", K1)
    t[0] += 1
    limited.put_record(b"x", K1)  # the 50 refusals did not dig a hole
    assert limited.throttle.throttled["write"] == 50


def test_explicit_hash_key_decides_the_shard(limited):
    for _ in range(1000):
        limited.put_record(b"x", K0, explicit_hash_key=str(2**127))  # K0's own shard is 0
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_record(b"x", K0, explicit_hash_key=2**128 - 1)
    assert str(exc.value) == rate_exceeded(S1)
    limited.put_record(b"x", K0)
    assert records_in(limited) == {S0: 1, S1: 1000}


def test_put_records_per_entry_errors(limited):
    assert limited.put_records([entry(K1)] * 500)["FailedRecordCount"] == 0
    assert limited.put_records([entry(K1)] * 499)["FailedRecordCount"] == 0
    req = [entry(K1, b"a"), entry(K0, b"b"), entry(K1, b"c"), entry(K0, b"d"), entry(K1, b"e")]
    resp = limited.put_records(req)
    assert resp["FailedRecordCount"] == 2
    recs = resp["Records"]
    assert [r.get("ShardId") for r in recs] == [S1, S0, None, S0, None]
    assert all("SequenceNumber" in recs[i] for i in (0, 1, 3))
    for i in (2, 4):
        assert recs[i] == {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": rate_exceeded(S1)}
    assert records_in(limited) == {S0: 2, S1: 1000}
    latest = limited.get_shard_iterator(S1, "LATEST")["ShardIterator"]
    assert limited.get_records(latest)["Records"] == []
    it = limited.get_shard_iterator(S1, "AT_SEQUENCE_NUMBER", recs[0]["SequenceNumber"])["ShardIterator"]
    assert [r["Data"] for r in limited.get_records(it)["Records"]] == [b"a"]


def test_put_records_all_throttled_writes_nothing(limited):
    fill(limited, K1, 1000)
    resp = limited.put_records([entry(K1)] * 3)
    assert resp["FailedRecordCount"] == 3
    assert all(r["ErrorMessage"] == rate_exceeded(S1) for r in resp["Records"])
    assert records_in(limited) == {S0: 0, S1: 1000}


def test_put_records_explicit_hash_keys(limited):
    limited.put_records([entry(K0, ExplicitHashKey=str(2**127))] * 500)
    limited.put_records([entry(K0, ExplicitHashKey=2**127 + 5)] * 500)
    resp = limited.put_records([entry(K0, ExplicitHashKey="0"), entry(K0, ExplicitHashKey=str(2**128 - 1))])
    assert [r.get("ShardId", r.get("ErrorMessage")) for r in resp["Records"]] == [S0, rate_exceeded(S1)]


def test_put_batch_all_or_nothing(limited, t):
    k1s, k0s = keys_for(1, 1000), keys_for(0, 10)
    table = limited.put_batch(k1s[:999], [b"x"] * 999)
    assert table.num_rows == 999
    before = limited.shard_stats()
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_batch(k0s + k1s[:2], [b"y"] * 12)  # shard 1 has room for 1, not 2
    assert str(exc.value) == rate_exceeded(S1)
    assert limited.shard_stats() == before  # nothing written, not even to shard 0
    limited.put_batch(k0s + k1s[:1], [b"y"] * 11)  # the refused batch consumed no budget
    assert records_in(limited) == {S0: 10, S1: 1000}
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_batch([K1], [b"z"])
    t[0] += 1000
    assert limited.put_batch(k1s, [b"z"] * 1000).num_rows == 1000


def test_put_batch_explicit_hash_keys(limited):
    limited.put_batch([K0] * 1000, [b"x"] * 1000, explicit_hash_keys=[str(2**127)] * 1000)
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_batch([K0, K0], [b"x", b"x"], explicit_hash_keys=[None, 2**128 - 1])
    assert str(exc.value) == rate_exceeded(S1)
    assert records_in(limited) == {S0: 0, S1: 1000}


def test_write_paths_share_one_budget(limited):
    fill(limited, K1, 400)
    limited.put_records([entry(K1)] * 400)
    limited.put_batch([K1] * 200, [b"x"] * 200)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)
    assert limited.put_records([entry(K1)])["FailedRecordCount"] == 1
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_batch([K1], [b"x"])


# -- writes: bytes per second ------------------------------------------------------------------


def test_byte_limit_put_record(limited, t):
    big = b"\0" * (600 * 1024)
    limited.put_record(big, K1)
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_record(big, K1)
    assert str(exc.value) == rate_exceeded(S1)
    limited.put_record(big, K0)
    limited.put_record(b"\0" * (424 * 1024 - 2 * len(K1)), K1)  # exactly the rest of the MiB
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"", K1)
    t[0] += 1000
    limited.put_record(big, K1)
    assert records_in(limited) == {S0: 1, S1: 3}


def test_byte_limit_counts_the_partition_key(limited):
    limited.put_record(b"\0" * (MIB - len(K1)), K1)  # data + key = 1 MiB exactly: fits a full bucket
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"", K1)


def test_byte_limit_put_records_later_smaller_entries_fit(limited):
    big = b"\0" * (600 * 1024)
    resp = limited.put_records([entry(K1, big), entry(K1, big), entry(K0, big), entry(K1, b"small")])
    assert resp["FailedRecordCount"] == 1
    assert resp["Records"][1] == {
        "ErrorCode": "ProvisionedThroughputExceededException",
        "ErrorMessage": rate_exceeded(S1),
    }
    assert [r.get("ShardId") for r in resp["Records"]] == [S1, None, S0, S1]
    assert records_in(limited) == {S0: 1, S1: 2}


def test_byte_limit_put_batch(limited):
    big = b"\0" * (600 * 1024)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_batch([K1, K1], [big, big])
    assert records_in(limited) == {S0: 0, S1: 0}
    limited.put_batch([K1, K0], [big, big])


def test_put_batch_over_one_seconds_budget_never_passes(limited, t):
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.put_batch([K1] * 1001, [b"x"] * 1001)
    assert str(exc.value) == rate_exceeded(S1)
    t[0] += 60_000
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_batch([K1] * 1001, [b"x"] * 1001)
    limited.put_batch([K1] * 1000 + [K0] * 1000, [b"x"] * 2000)  # a second's worth for each of two shards
    assert records_in(limited) == {S0: 1000, S1: 1000}


def test_record_larger_than_the_bucket_leaves_a_debt(engine, t):
    s = engine.create_stream("large", shard_count=1, max_record_size_kib=2048)
    throttle.install(s)
    s.put_record(b"\0" * (3 * MIB // 2 - 1), "k")  # 1.5 MiB: admitted against the full bucket
    t[0] += 499  # 0.5 MiB of debt (+2 B for the next record) takes 500 ms (+1 ms) to repay
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        s.put_record(b"x", "k")
    assert str(exc.value) == rate_exceeded(S0, "large")
    t[0] += 2
    s.put_record(b"x", "k")
    resp = s.put_records([entry("k", b"\0" * (3 * MIB // 2 - 1))])  # needs a full bucket: a second away
    assert resp["FailedRecordCount"] == 1
    assert resp["Records"][0]["ErrorMessage"] == rate_exceeded(S0, "large")
    t[0] += 1000
    assert s.put_records([entry("k", b"\0" * (3 * MIB // 2 - 1))])["FailedRecordCount"] == 0


def test_custom_limits(stream, t):
    throttle.install(stream, throttle.ThroughputLimits(write_records_per_s=3, write_bytes_per_s=10))
    fill(stream, K1, 3)
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.put_record(b"x", K1)
    stream.put_record(b"\0" * 20, K0)  # more than the whole byte bucket: admitted against a full one
    t[0] += 1000  # 10 B/s has not yet repaid the debt
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.put_record(b"", K0)
    t[0] += 2000
    stream.put_record(b"", K0)
    fill(stream, K1, 3)


# -- writes: validation first, failures refunded -------------------------------------------------


def test_invalid_writes_get_their_own_errors_not_throttling(limited):
    fill(limited, K1, 1000)
    with pytest.raises(ValidationException):
        limited.put_record(b"x", "k" * 257)
    with pytest.raises(ValidationException):
        limited.put_record(b"x", K1, explicit_hash_key="abc")
    with pytest.raises(InvalidArgumentException):
        limited.put_record(b"x", K1, explicit_hash_key=str(2**128))
    with pytest.raises(InvalidArgumentException):
        limited.put_record(b"x", K1, sequence_number_for_ordering="1")
    with pytest.raises(ValidationException):
        limited.put_records([entry(K1)] * 501)
    with pytest.raises(ValidationException):
        limited.put_records([entry(K1), entry("k" * 257)])
    with pytest.raises(ValidationException):
        limited.put_batch([K1, "k" * 257], [b"x", b"x"])
    assert records_in(limited) == {S0: 0, S1: 1000}
    limited.put_record(b"x", K0)  # the failed calls took nothing from shard 0 either


def test_a_write_failing_in_the_engine_is_refunded(engine):
    s = engine.create_stream("full", shard_count=1, shard_capacity_bytes=2 * MIB)
    for size in (512 * 1024, 1024, 1):  # fill the shard log to the brim before throttling is on
        while True:
            try:
                s.put_record(b"\0" * size, "k")
            except ProvisionedThroughputExceededException:
                break
    st = throttle.install(s)
    for _ in range(3):
        with pytest.raises(ProvisionedThroughputExceededException):
            s.put_record(b"x", "k")  # the log is full: the engine's own refusal
    resp = s.put_records([entry("k")] * 10)
    assert resp["FailedRecordCount"] == 10
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_batch(["k"] * 10, [b"x"] * 10)
    assert st.snapshot()[S0]["WriteRecords"] == 1000
    assert st.snapshot()[S0]["WriteBytes"] == MIB


def test_concurrent_writers_admit_exactly_the_budget(limited):
    ok = []
    lock = threading.Lock()

    def writer():
        n = 0
        for _ in range(250):
            try:
                limited.put_record(b"x", K1)
                n += 1
            except ProvisionedThroughputExceededException:
                pass
        with lock:
            ok.append(n)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(ok) == 1000
    assert records_in(limited)[S1] == 1000


# -- GetShardIterator --------------------------------------------------------------------------


def test_get_shard_iterator_5_per_shard_per_second(limited, t):
    for _ in range(5):
        assert limited.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        limited.get_shard_iterator(S1, "LATEST")
    assert str(exc.value) == rate_exceeded(S1)
    for _ in range(5):
        limited.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")  # other shard unaffected
    t[0] += 200
    limited.get_shard_iterator(S1, "LATEST")
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.get_shard_iterator(S1, "LATEST")
    t[0] += 1000
    for _ in range(5):
        limited.get_shard_iterator(S1, "LATEST")


def test_get_shard_iterator_errors_come_before_throttling(limited):
    for _ in range(5):
        limited.get_shard_iterator(S1, "TRIM_HORIZON")
    with pytest.raises(ValidationException):
        limited.get_shard_iterator(S1, "BOGUS")
    with pytest.raises(ResourceNotFoundException):
        limited.get_shard_iterator("shardId-000000000007", "TRIM_HORIZON")
    with pytest.raises(InvalidArgumentException):
        limited.get_shard_iterator(S0, "AT_SEQUENCE_NUMBER")
    limited.get_shard_iterator(S0, "TRIM_HORIZON")  # the failed calls consumed nothing
    assert limited.throttle.snapshot()[S0]["IteratorCalls"] == 4


def test_engine_calls_go_through_the_throttle(engine, limited):
    for _ in range(5):
        engine.get_shard_iterator("s", S1, "LATEST")
    with pytest.raises(ProvisionedThroughputExceededException):
        engine.get_shard_iterator("s", S1, "LATEST")
    for _ in range(1000):
        engine.put_record("s", b"x", K1)
    with pytest.raises(ProvisionedThroughputExceededException):
        engine.put_record("s", b"x", K1)
    assert engine.put_records([entry(K1)], "s")["FailedRecordCount"] == 1


# -- GetRecords ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get_records", "get_record_batch"])
def test_get_records_5_calls_per_second(stream, t, method):
    stream.put_record(b"hello", K1)
    it1 = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    it0 = stream.get_shard_iterator(S0, "TRIM_HORIZON")["ShardIterator"]
    throttle.install(stream)
    read = getattr(stream, method)
    for _ in range(5):
        assert len(read(it1)["Records"]) == 1  # an iterator is a position: same records each time
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        read(it1)
    assert str(exc.value) == rate_exceeded(S1)
    for _ in range(5):
        read(it0)  # other shard unaffected
    t[0] += 200
    read(it1)
    with pytest.raises(ProvisionedThroughputExceededException):
        read(it1)
    t[0] += 1000
    for _ in range(5):
        assert len(read(it1)["Records"]) == 1


def test_get_records_and_get_record_batch_share_the_budget(stream):
    it = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    throttle.install(stream)
    for _ in range(3):
        stream.get_records(it)
    for _ in range(2):
        stream.get_record_batch(it)
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.get_records(it)
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.get_record_batch(it)


def _mib_records(stream, key: str, count: int) -> None:
    for _ in range(count):
        stream.put_record(b"\0" * (MIB - len(key)), key)  # data + key = 1 MiB


@pytest.mark.parametrize("method", ["get_records", "get_record_batch"])
def test_read_byte_budget(stream, t, method):
    _mib_records(stream, K1, 4)  # written before the throttle is on
    it = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    throttle.install(stream)
    read = getattr(stream, method)
    r1 = read(it, 1)
    r2 = read(r1["NextShardIterator"], 1)  # 2 MiB returned: the second's read budget is spent
    with pytest.raises(ProvisionedThroughputExceededException) as exc:
        read(r2["NextShardIterator"], 1)
    assert str(exc.value) == rate_exceeded(S1)
    t[0] += 1  # any budget left admits a call, whatever it returns
    r3 = read(r2["NextShardIterator"], 1)
    assert len(r3["Records"]) == 1
    t[0] += 499  # the debt (1 MiB less 1 ms of refill) takes 500 ms to repay: at 499 ms it is zero
    with pytest.raises(ProvisionedThroughputExceededException):
        read(r3["NextShardIterator"], 1)
    t[0] += 1
    assert len(read(r3["NextShardIterator"], 1)["Records"]) == 1


@pytest.mark.parametrize("method", ["get_records", "get_record_batch"])
def test_big_read_starts_the_5_second_penalty(stream, t, method):
    _mib_records(stream, K1, 3)
    it1 = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    it0 = stream.get_shard_iterator(S0, "TRIM_HORIZON")["ShardIterator"]
    throttle.install(stream)
    read = getattr(stream, method)
    assert len(read(it1)["Records"]) == 3  # 3 MiB in one call: more than one second's budget
    for dt in (0, 1000, 4999):
        t[0] = T0 + dt
        with pytest.raises(ProvisionedThroughputExceededException) as exc:
            read(it1)
        assert str(exc.value) == rate_exceeded(S1)
        read(it0)  # other shard unaffected
    t[0] = T0 + 5000
    assert len(read(it1)["Records"]) == 3


def test_exactly_the_budget_in_one_call_has_no_penalty(stream, t):
    _mib_records(stream, K1, 2)
    it = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    throttle.install(stream)
    assert len(stream.get_records(it)["Records"]) == 2  # exactly 2 MiB
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.get_records(it)
    t[0] += 1
    stream.get_records(it)


def test_empty_reads_cost_calls_only(stream):
    it = stream.get_shard_iterator(S1, "LATEST")["ShardIterator"]
    throttle.install(stream)
    for _ in range(5):
        assert stream.get_records(it)["Records"] == []
    assert stream.throttle.snapshot()[S1]["ReadBytes"] == 2 * MIB


def test_get_records_errors_come_before_throttling(engine, stream, t):
    it = stream.get_shard_iterator(S1, "LATEST")["ShardIterator"]
    throttle.install(stream)
    for _ in range(5):
        stream.get_records(it)
    with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator"):
        stream.get_records("garbage")
    with pytest.raises(ValidationException):
        stream.get_records(it, limit=0)
    other = engine.create_stream("other", shard_count=2)
    with pytest.raises(ResourceNotFoundException):
        stream.get_records(other.get_shard_iterator(S1, "LATEST")["ShardIterator"])
    with pytest.raises(ProvisionedThroughputExceededException):
        stream.get_records(it)


def test_engine_get_records_is_throttled(engine, stream):
    it = stream.get_shard_iterator(S1, "LATEST")["ShardIterator"]
    throttle.install(stream)
    for _ in range(5):
        engine.get_records(it)
    with pytest.raises(ProvisionedThroughputExceededException):
        engine.get_records(it)


# -- off, on, off ---------------------------------------------------------------------------------


def test_without_install_nothing_is_throttled(stream):
    for _ in range(10):
        resp = stream.put_records([entry(K1)] * 500)
        assert resp["FailedRecordCount"] == 0
    fill(stream, K1, 1000)
    stream.put_batch([K1] * 2000, [b"\0" * 1024] * 2000)
    assert records_in(stream) == {S0: 0, S1: 8000}
    for _ in range(20):
        it = stream.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
        stream.get_records(it)
        stream.get_record_batch(it)
    assert not hasattr(stream, "throttle")


def test_uninstall_restores_unthrottled_behaviour(limited):
    fill(limited, K1, 1000)
    it = limited.get_shard_iterator(S1, "TRIM_HORIZON")["ShardIterator"]
    for _ in range(5):
        limited.get_records(it, 1)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)
    throttle.uninstall(limited)
    fill(limited, K1, 1000)
    assert limited.put_records([entry(K1)] * 500)["FailedRecordCount"] == 0
    limited.put_batch([K1] * 10, [b"x"] * 10)
    for _ in range(10):
        limited.get_records(it, 1)
        limited.get_shard_iterator(S1, "LATEST")
    assert records_in(limited)[S1] == 2510


def test_reinstall_starts_fresh(limited):
    fill(limited, K1, 1000)
    first = limited.throttle
    second = throttle.install(limited, throttle.ThroughputLimits(write_records_per_s=2000))
    assert limited.throttle is second is not first
    fill(limited, K1, 2000)
    with pytest.raises(ProvisionedThroughputExceededException):
        limited.put_record(b"x", K1)


def test_snapshot_and_reset(limited, t):
    fill(limited, K1, 10)
    snap = limited.throttle.snapshot()
    assert snap[S1]["WriteRecords"] == 990
    assert snap[S1]["WriteBytes"] == MIB - 10 * (1 + len(K1))
    assert snap[S1]["ReadPenaltyUntilMs"] is None
    limited.throttle.reset()
    assert limited.throttle.snapshot() == {}
    fill(limited, K1, 1000)


def test_stream_throttle_api_directly(stream, t):
    st = throttle.StreamThrottle(stream, throttle.ThroughputLimits(write_records_per_s=2, read_calls_per_s=1))
    assert st.check_write(S1, 2, 100)
    assert not st.check_write(1, 1, 1)  # a shard index names the same shard
    assert st.check_write("shardId-0", 1, 1)
    assert st.check_write_all({S0: (1, 1), S1: (1, 1)}) == S1
    assert st.check_write_all({S0: (1, 1)}) is None
    assert not st.check_write(S0, 1, 1)
    assert st.check_read(S1) and not st.check_read(S1)
    st.charge_read(S1, 3 * MIB)
    t[0] += 1000
    assert not st.check_read(S1)  # penalty
    t[0] += 4000
    assert st.check_read(S1)
    assert all(st.check_iterator(S1) for _ in range(5)) and not st.check_iterator(S1)
    assert st.message(1) == rate_exceeded(S1)
    assert not hasattr(stream, "throttle")  # constructing one installs nothing


def test_columns_of_put_batch_are_not_converted_twice(limited):
    keys = pa.array([K1, K0], pa.string())
    table = limited.put_batch(keys, pa.array([b"a", b"b"], pa.binary()))
    assert table.column("shard_id").to_pylist() == [S1, S0]
