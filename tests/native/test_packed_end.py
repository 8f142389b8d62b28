"""``ShardLog.packed_end``: readers skip looking for aggregates and envelopes in records known plain."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.aggregation import MAGIC, encode_aggregate
from shardstream.compression import ENVELOPE_MAGIC, compress
from shardstream.unpack import unpack_batch

AGGREGATE = encode_aggregate(["a", "b"], [b"1", b"2"])
ENVELOPE = compress(b"z" * 1000, "gzip")


def test_packed_end_follows_the_records_that_may_be_packed(stream):
    s = stream(2)
    log = s.logs[0]
    first = log.tail
    assert log.packed_end == first  # nothing put: what follows is plain until said otherwise
    s.put_record(b"plain", "k", explicit_hash_key="0")
    s.put_record(MAGIC + b"x", "k", explicit_hash_key="0")  # 5 bytes: too short to be an aggregate
    s.put_record(b"x" + MAGIC + b"xx", "k", explicit_hash_key="0")  # the magic, but not in front
    s.put_record(b"", "k", explicit_hash_key="0")
    assert log.packed_end == first
    s.put_record(AGGREGATE, "k", explicit_hash_key="0")
    assert log.packed_end == first + 5
    s.put_batch(["k"] * 3, [b"p", ENVELOPE, b"q"], explicit_hash_keys=["0"] * 3)
    assert log.packed_end == first + 7
    assert s.logs[1].packed_end == s.logs[1].tail  # the other shard saw none
    assert ENVELOPE[:4] == ENVELOPE_MAGIC


payloads = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([AGGREGATE, ENVELOPE, MAGIC + b"xy", ENVELOPE_MAGIC + b"\x02x", MAGIC[:3], b"\xf3" * 8]),
)


def user_records(table: pa.Table) -> list:
    return [(r["partition_key"], r["data"], r["sub_sequence_number"]) for r in table.to_pylist()]


def scanned(stream_) -> list:
    """What reading user records gives when every row is looked at (no packed_end)."""
    raw = stream_.read_table(deaggregate=False)
    return user_records(pa.Table.from_batches([unpack_batch(b) for b in raw.to_batches()]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(payloads, min_size=1, max_size=8), min_size=1, max_size=5), st.integers(1, 5))
def test_reads_with_packed_end_give_what_a_full_scan_gives(stream, puts, batch_size):
    s = stream(2)
    for put in puts:
        s.put_batch([f"k{i}" for i in range(len(put))], put)
    expected = scanned(s)
    assert user_records(s.read_table()) == expected
    assert user_records(s.read_table(batch_size=batch_size)) == expected
    pieces = [s.read_batch(shard, limit=1000) for shard in ("shardId-000000000000", "shardId-000000000001")]
    assert sorted(user_records(pa.Table.from_batches(pieces))) == sorted(expected)


def test_records_from_an_earlier_run_are_still_taken_apart(tmp_path):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        engine.create_stream("s", 1).put_record(AGGREGATE, "k")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.stream("s")
        s.put_record(b"plain", "k")
        assert s.logs[0].packed_end == s.logs[0].tail - 1  # this run's ring knows only its own record
        assert s.read_table().column("data").to_pylist() == [b"1", b"2", b"plain"]
