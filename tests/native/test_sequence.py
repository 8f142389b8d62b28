"""Sequence numbers in AWS's layout, and shard iterators in AWS's shape."""

from __future__ import annotations

import base64
import decimal
import hmac
import struct

import numpy as np
import pyarrow as pa
import pytest
from conftest import ACCOUNT, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream import InvalidArgumentException
from shardstream._native import ShardLog, format_sequence_values, format_shard_sequence_numbers
from shardstream.iterators import IteratorCodec
from shardstream.sequence import (
    END_COUNTER,
    LEGACY_VERSION,
    format_sequence_number,
    parse_legacy_sequence_number,
    parse_sequence_number,
    sequence_counter,
    shard_created_s,
)

SECONDS = st.integers(0, 2**36 - 1)
INDEX = st.integers(0, 2**31 - 1)
COUNTER = st.integers(0, END_COUNTER)
FAST = settings(max_examples=300, deadline=None)


def aws_decode(text: str) -> dict:
    """Decode a number by AWS's documented version 2 layout, from its 47 hex digits."""
    h = format(int(text), "x")
    assert len(h) == 47 and h[0] == "2" and h[-1] == "2" and h[27:29] == "00"
    index = int(h[38:46], 16)
    if index >= 2**31:
        index -= 2**32
    assert h[10] == h[45]  # the low hex digit of the shard index
    return {
        "shard_created_s": int(h[1:10], 16),
        "counter": int(h[11:27], 16),
        "arrival_s": int(h[29:38], 16),
        "shard_index": index,
    }


@FAST
@given(SECONDS, INDEX, COUNTER, SECONDS)
def test_format_parse_round_trip(created, index, counter, arrival):
    text = format_sequence_number(created, index, counter, arrival)
    assert len(text) == 56 and text.isdigit()
    parsed = parse_sequence_number(text)
    assert parsed.version == 2
    assert (parsed.shard_created_s, parsed.shard_index, parsed.counter, parsed.arrival_s) == (
        created,
        index,
        counter,
        arrival,
    )
    assert str(parsed) == text
    assert aws_decode(text) == {
        "shard_created_s": created,
        "shard_index": index,
        "counter": counter,
        "arrival_s": arrival,
    }


@FAST
@given(SECONDS, INDEX, st.lists(st.tuples(COUNTER, SECONDS), min_size=2, max_size=20, unique_by=lambda t: t[0]))
def test_string_order_is_integer_order_is_counter_order(created, index, records):
    texts = [format_sequence_number(created, index, c, a) for c, a in records]
    by_counter = [t for _, t in sorted(zip((c for c, _ in records), texts))]
    assert sorted(texts) == sorted(texts, key=int) == by_counter


@FAST
@given(SECONDS, INDEX, st.integers(0, 2**40), st.integers(1, 300), st.lists(st.integers(0, 2**36 * 1000), min_size=1))
def test_core_formats_what_python_formats(created, index, first, n, arrivals_ms):
    """The C formatter (cached +2**80 steps across carries, arrival changes) agrees with the definition."""
    counters = np.arange(first, first + n, dtype=np.uint64)
    arrivals = np.array([arrivals_ms[i * len(arrivals_ms) // n] for i in range(n)], dtype=np.int64)
    got = format_shard_sequence_numbers(created, index, counters, arrivals).to_pylist()
    want = [
        format_sequence_number(created, index, int(c), min(int(a) // 1000, 2**36 - 1))
        for c, a in zip(counters, arrivals)
    ]
    assert got == want
    # out of order and repeated counters too
    back = format_shard_sequence_numbers(created, index, counters[::-1].copy(), arrivals[::-1].copy()).to_pylist()
    assert back == want[::-1]


def test_counter_steps_carry_through_every_limb():
    created, index = 2**36 - 1, 2**31 - 1
    for first in (0, 10**8 - 1, 2**56, END_COUNTER - 200):
        counters = np.arange(first, first + 200, dtype=np.uint64)
        arrivals = np.full(200, (2**36 - 1) * 1000, dtype=np.int64)
        got = format_shard_sequence_numbers(created, index, counters, arrivals).to_pylist()
        assert got == [format_sequence_number(created, index, int(c), 2**36 - 1) for c in counters]


def test_shardlog_numbers_and_put_results_decode_as_aws_does(stream):
    s = stream(3)
    table = s.put_batch([f"k{i}" for i in range(500)], [b"x"] * 500)
    single = s.put_record(b"y", "k1")
    numbers = [*table.column("sequence_number").to_pylist(), single["SequenceNumber"]]
    shards = [*table.column("shard_id").to_pylist(), single["ShardId"]]
    for text, sid in zip(numbers, shards):
        fields = aws_decode(text)
        index = int(sid.rsplit("-", 1)[1])
        assert fields["shard_index"] == index
        assert fields["shard_created_s"] == s.shards[index].created_ms // 1000
        assert abs(fields["arrival_s"] - s.now_ms() // 1000) <= 1
    read = s.read_table()
    assert sorted(read.column("sequence_number").to_pylist()) == sorted(numbers)
    log = s.shard_log(shard_id(0))
    assert (
        log.sequence_number(0, s.shards[0].created_ms)
        == s.describe()["StreamDescription"]["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    )


def test_shardlog_checks_its_fields():
    with pytest.raises(ValueError):
        ShardLog(0, 2**36, 1 << 20, 1000)
    with pytest.raises(ValueError):
        ShardLog(2**31, 0, 1 << 20, 1000)


def test_child_shards_number_above_their_parents(clocked_engine, clock):
    s = clocked_engine.create_stream("r", 2)
    s.put_record(b"x", "k", explicit_hash_key="0")
    s.split_shard(shard_id(0), str(2**64))  # within the second the parent was created
    s.merge_shards(shard_id(2), shard_id(3))
    shards = {d["ShardId"]: d for d in s.describe()["StreamDescription"]["Shards"]}
    for child in shards.values():
        for key in ("ParentShardId", "AdjacentParentShardId"):
            parent = shards.get(child.get(key))
            if parent is not None:
                end = int(parent["SequenceNumberRange"]["EndingSequenceNumber"])
                assert int(child["SequenceNumberRange"]["StartingSequenceNumber"]) > end
    assert shard_created_s(1_500, []) == 1
    assert shard_created_s(1_500, [7, 3]) == 8


def test_end_counter_keeps_the_counter_top_bit_clear(stream):
    s = stream(2)
    s.merge_shards(shard_id(0), shard_id(1))
    end = s.describe()["StreamDescription"]["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"]
    assert aws_decode(end)["counter"] == 2**63 - 1


# -- older layouts -------------------------------------------------------------------------------------------


def test_aws_older_layouts_parse():
    v0 = parse_sequence_number("5")
    assert (v0.version, v0.shard_index, v0.counter) == (0, 5, None)
    assert parse_sequence_number(str(2**124 + (1_600_000_000 << 88) + 0x1234)).shard_index == 0x1234
    v1 = parse_sequence_number(str((2 << 184) | (1_600_000_000 << 148) | (1_600_000_123 << 100) | (7 << 4) | 1))
    assert (v1.version, v1.shard_created_s, v1.arrival_s, v1.shard_index, v1.counter) == (
        1,
        1_600_000_000,
        1_600_000_123,
        7,
        None,
    )
    for bad in ("", "x", "9" * 56, "1" * 56, str(2**250)):
        assert parse_sequence_number(bad) is None
    good = format_sequence_number(1_700_000_000, 3, 9, 1_700_000_001)
    assert (
        parse_sequence_number(str(int(good) + (1 << 72))) is None
        or parse_sequence_number(str(int(good) + (1 << 72))).version == LEGACY_VERSION
    )  # the 00 byte must be 00
    negative = parse_sequence_number(format_sequence_number(1, -(2**31), 0, 1))
    assert negative.shard_id == "shardId--02147483648"


def test_legacy_layout_parses():
    text = f"49{1_700_000_000:010d}{3:010d}{42:05d}{17:029d}"
    legacy = parse_legacy_sequence_number(text)
    assert (legacy.version, legacy.shard_created_s, legacy.shard_index, legacy.salt, legacy.counter) == (
        LEGACY_VERSION,
        1_700_000_000,
        3,
        42,
        17,
    )
    assert sequence_counter(text) == 17
    end = f"49{1_700_000_000:010d}{3:010d}{42:05d}{2**64 - 1:029d}"
    assert parse_legacy_sequence_number(end).counter == END_COUNTER


def test_version_0_numbers_in_get_shard_iterator(stream):
    s = stream(1)
    with pytest.raises(InvalidArgumentException) as ei:
        s.get_shard_iterator(shard_id(0), "AT_SEQUENCE_NUMBER", "5")
    assert str(ei.value) == (
        "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a shard "
        "with shardId-000000000000"
    )
    negative = format_sequence_number(1, -(2**31), 0, 1)
    with pytest.raises(InvalidArgumentException) as ei:
        s.get_shard_iterator(shard_id(0), "AFTER_SEQUENCE_NUMBER", negative)
    assert str(ei.value) == (
        "Invalid StartingSequenceNumber. It encodes shardId--02147483648, while it was used in a call to a shard "
        "with shardId-000000000000"
    )
    foreign = format_sequence_number(1, 0, 5, 1)
    with pytest.raises(InvalidArgumentException) as ei:
        s.get_shard_iterator(shard_id(0), "AT_SEQUENCE_NUMBER", foreign)
    assert str(ei.value) == (
        f"StartingSequenceNumber {foreign} used in GetShardIterator on shard shardId-000000000000 in stream "
        f"{s.name} under account {ACCOUNT} is invalid because it did not come from this stream."
    )


# -- iterators ----------------------------------------------------------------------------------------------


@given(st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=128), st.integers(0, 2**63 - 1))
@settings(max_examples=100, deadline=None)
def test_iterator_tokens_have_aws_size_and_prefix(name, position):
    codec = IteratorCodec(b"s" * 32)
    token = codec.encode(name, 7, 3, position, 1_000)
    raw = base64.b64decode(token)
    assert token.startswith("AAAAAAAAAAE") and len(token) <= 512
    assert raw[:8] == bytes([0, 0, 0, 0, 0, 0, 0, 1])
    assert len(raw) >= 152 and (len(raw) - 152) % 16 == 0
    assert codec.decode(token, 2_000) == (name, 7, 3, position, 1_000)  # (remembered since it made it)
    assert IteratorCodec(b"s" * 32).decode(token, 2_000) == (name, 7, 3, position, 1_000)  # checked afresh


def _hmac_token(secret: bytes, name: str, position: int) -> str:
    """A token as version 2 made it (HMAC-SHA256 tag), before the SipHash tags."""
    body = bytes([0, 0, 0, 0, 0, 0, 0, 1, 2, len(name)]) + name.encode() + struct.pack(">QIQQ", 7, 3, position, 1_000)
    body += bytes(152 - 16 - len(body))
    return base64.b64encode(body + hmac.digest(secret, body, "sha256")[:16]).decode()


def test_iterator_tokens_of_the_hmac_version_are_still_read():
    secret = b"s" * 32
    token = _hmac_token(secret, "orders", 42)
    assert IteratorCodec(secret).decode(token, 2_000) == ("orders", 7, 3, 42, 1_000)
    with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator."):
        IteratorCodec(b"t" * 32).decode(token, 2_000)  # another engine's secret
    raw = bytearray(base64.b64decode(token))
    raw[8] = 3  # claims the SipHash version with an HMAC tag
    with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator."):
        IteratorCodec(secret).decode(base64.b64encode(bytes(raw)).decode(), 2_000)


def test_iterator_tokens_are_tamper_evident(stream):
    s = stream(1)
    token = s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")["ShardIterator"]
    raw = bytearray(base64.b64decode(token))
    assert len(raw) == 152
    for i in (0, 7, 8, 20, len(raw) - 20, len(raw) - 1):
        bad = raw.copy()
        bad[i] ^= 1
        with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator."):
            s.get_records(base64.b64encode(bytes(bad)).decode())
    with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator."):
        s.get_records(base64.b64encode(bytes(raw) + bytes(16)).decode())


@pytest.mark.parametrize("arrival", [0, 1_765_000_000, 2**36 - 1])
def test_batch_formatting_across_a_carry_out_of_the_low_limbs(arrival):
    # find a counter where the value's digits above the lowest 32 change (a carry out of limb 3)
    def above(c):
        return int(format_sequence_number(7, 3, c, arrival)) // 10**32

    lo, hi = 1, 10**9  # 10**9 steps of 2**80 span > 10**32: some carry lies in between
    assert above(hi) > above(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if above(mid) == above(lo) else (lo, mid)
    counters = np.arange(hi - 6, hi + 6, dtype=np.uint64)
    want = [format_sequence_number(7, 3, int(c), arrival) for c in counters]
    arrivals = np.full(len(counters), arrival * 1000, dtype=np.int64)
    assert format_shard_sequence_numbers(7, 3, counters, arrivals).to_pylist() == want
    values = pa.array([decimal.Decimal(w) for w in want], pa.decimal256(56, 0))
    assert format_sequence_values(values).to_pylist() == want
