"""The native core against the pure-Python reference model (``shardstream._reference``).

A :class:`Pair` drives an Engine stream and a :class:`StreamModel` with the same operations and
compares every answer: shard ids and sequence numbers of puts (PutRecord, PutRecords, put_batch),
refusals when a shard's ring is full, reads (the core's Arrow reads with record and byte limits,
GetRecords through iterators, ``read_batch``, ``read_table``), the open-shard layout after splits and
merges, and retention of records and of closed shards.  Only public APIs of the engine are used.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import T0_MS, FakeClock
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import shardstream
from shardstream import InvalidArgumentException, ProvisionedThroughputExceededException
from shardstream._native import read_arrow_batch
from shardstream._reference import HASH_KEY_MAX, StreamModel, even_split, hash_key, sequence_number
from shardstream.records import format_records

DAY_MS = 24 * 3_600_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def to_ms(when: dt.datetime) -> int:
    return (when - EPOCH) // dt.timedelta(milliseconds=1)


def model_rows(records, shard, model):
    """The model's records as (sequence number, key, data, arrival ms)."""
    return [(model.sequence_number(shard, r), r.partition_key, r.data, r.arrival_ms) for r in records]


def record_rows(records):
    """GetRecords-shaped records as (sequence number, key, data, arrival ms)."""
    return [
        (r["SequenceNumber"], r["PartitionKey"], r["Data"], to_ms(r["ApproximateArrivalTimestamp"])) for r in records
    ]


class Pair:
    """An engine stream and the model, driven together; every method compares their answers."""

    def __init__(self, shard_count: int, retention_hours: int = 24, capacity_bytes: int | None = None):
        self.clock = FakeClock()
        self.engine = shardstream.Engine(clock=self.clock)
        self.stream = self.engine.create_stream(
            "ref", shard_count, retention_hours, shard_capacity_bytes=capacity_bytes
        )
        capacity = self.stream.shard_log("shardId-000000000000").capacity_bytes
        self.model = StreamModel(shard_count, self.clock.now, retention_hours * 3_600_000, capacity)
        self.last_seq: dict[str, int] = {}  # per shard, the newest sequence number a put returned

    # -- writes -------------------------------------------------------------------------------

    def _check_increasing(self, answers) -> None:
        for shard_id, seq in filter(None, answers):
            assert int(seq) > self.last_seq.get(shard_id, -1)
            self.last_seq[shard_id] = int(seq)

    def _all_or_nothing(self, entries, write) -> None:
        """``write()`` returns ``[(shard_id, sequence_number)]`` or raises when a shard lacks room."""
        want = self.model.put_many(entries, self.clock.now, partial=False)
        if want is None:
            with pytest.raises(ProvisionedThroughputExceededException):
                write()
            return
        got = write()
        assert got == want
        self._check_increasing(got)

    def put_record(self, key: str, data: bytes, ehk: int | None) -> None:
        def write():
            resp = self.stream.put_record(data, key, explicit_hash_key=None if ehk is None else str(ehk))
            return [(resp["ShardId"], resp["SequenceNumber"])]

        self._all_or_nothing([(key, data, ehk)], write)

    def put_batch(self, entries, ints: bool = False) -> None:
        """put_batch (Arrow); explicit hash keys as decimal strings, or as Python ints with ``ints``."""
        ehks = [h if h is None or ints else str(h) for _, _, h in entries]

        def write():
            keys, payloads = [k for k, _, _ in entries], [d for _, d, _ in entries]
            table = self.stream.put_batch(keys, payloads, ehks if any(h is not None for h in ehks) else None)
            return list(zip(table.column("shard_id").to_pylist(), table.column("sequence_number").to_pylist()))

        self._all_or_nothing(entries, write)

    def put_records(self, entries) -> None:
        """PutRecords: each entry succeeds or fails (a full shard) on its own."""
        request = [
            {"Data": d, "PartitionKey": k} | ({} if h is None else {"ExplicitHashKey": str(h)}) for k, d, h in entries
        ]
        resp = self.stream.put_records(request)
        want = self.model.put_many(entries, self.clock.now, partial=True)
        got = [(r["ShardId"], r["SequenceNumber"]) if "SequenceNumber" in r else None for r in resp["Records"]]
        assert got == want
        assert resp["FailedRecordCount"] == want.count(None)
        for r, answer in zip(resp["Records"], want):
            assert answer is not None or r["ErrorCode"] == "ProvisionedThroughputExceededException"
        self._check_increasing(got)

    # -- reads --------------------------------------------------------------------------------

    def readable(self):
        return self.model.listed_shards(self.clock.now)

    def read_log(self, shard, offset: int, limit: int, max_bytes: int) -> None:
        """One core read of a shard log (Arrow, then GetRecords dicts) from ``offset`` past the model's oldest
        record (may be negative)."""
        log = self.stream.shard_log(shard.shard_id)
        ring = self.model.rings[shard.index]
        start = max(0, ring.head + offset)
        batch, nxt, tail, next_ts = read_arrow_batch(log, start, limit, max_bytes, self.clock.now)
        records = format_records(batch, wire=False)
        want, want_next = ring.read(start, limit, max_bytes, self.clock.now)
        assert record_rows(records) == model_rows(want, shard, self.model)
        assert (nxt, tail) == (want_next, ring.tail)
        assert next_ts == (ring.records[want_next - ring.head].arrival_ms if want_next < ring.tail else None)
        assert log.bounds() == (ring.head, ring.tail)

    def drain(self, shard, limit: int) -> None:
        """Follow GetRecords iterators from TRIM_HORIZON to the tip (or the end of a closed shard)."""
        ring = self.model.rings[shard.index]
        it = self.stream.get_shard_iterator(shard.shard_id, "TRIM_HORIZON")["ShardIterator"]
        position, seen = 0, []
        while True:
            resp = self.stream.get_records(it, limit)
            want, position = ring.read(position, limit, 10 * 2**20, self.clock.now)
            assert record_rows(resp["Records"]) == model_rows(want, shard, self.model)
            seen.extend(int(r["SequenceNumber"]) for r in resp["Records"])
            caught_up = position >= ring.tail
            # 0 when caught up, else an age (never negative): the engine gives the first unread record's,
            # the spec (section 4.6) the last returned one's -- either is accepted here
            ages = {max(0, self.clock.now - r.arrival_ms) for r in ring.records[position - ring.head :][:1] + want[-1:]}
            assert resp["MillisBehindLatest"] in ({0} if caught_up else ages)
            if not shard.open and caught_up and not want:
                assert "NextShardIterator" not in resp
                assert [c["ShardId"] for c in resp["ChildShards"]] == [
                    c.shard_id for c in self.model.children(shard.shard_id)
                ]
                break
            it = resp["NextShardIterator"]
            if caught_up and not want:  # an open shard's tip
                break
        assert seen == sorted(set(seen))  # strictly increasing

    def read_at(self, shard, nth: int, limit: int) -> None:
        """``read_batch`` from AT_SEQUENCE_NUMBER of a retained record."""
        ring = self.model.rings[shard.index]
        ring.trim(self.clock.now)
        if not ring.records:
            return
        record = ring.records[nth % len(ring.records)]
        seq = self.model.sequence_number(shard, record)
        batch = self.stream.read_batch(shard.shard_id, "AT_SEQUENCE_NUMBER", seq, limit=limit)
        want, _ = ring.read(record.counter, limit, 2**31 - 1, self.clock.now)
        assert batch.column("sequence_number").to_pylist() == [self.model.sequence_number(shard, r) for r in want]
        assert batch.column("data").to_pylist() == [r.data for r in want]

    def read_table(self) -> None:
        """The whole stream, shard by shard in index order."""
        table = self.stream.read_table(batch_size=7)
        assert self.stream.read_table(batch_size=7, use_threads=False).equals(table)  # shard by shard, one thread
        want = []
        for shard in self.readable():
            records, _ = self.model.rings[shard.index].read(0, 2**62, 2**62, self.clock.now)
            want += [(shard.shard_id, *row) for row in model_rows(records, shard, self.model)]
        cols = ["shard_id", "sequence_number", "partition_key", "data", "approximate_arrival_timestamp"]
        got = list(zip(*(table.column(c).to_pylist() for c in cols)))
        assert [(*row[:4], to_ms(row[4])) for row in got] == want

    # -- resharding ---------------------------------------------------------------------------

    def split(self, pick: int, fraction: int) -> None:
        """Split an open shard at ``fraction / 2**32`` of its range (the legal part of it)."""
        candidates = [s for s in self.model.open_shards() if s.end - s.start >= 3]
        if not candidates:
            return
        shard = candidates[pick % len(candidates)]
        at = shard.start + 2 + (shard.end - shard.start - 3) * fraction // 2**32
        self.stream.split_shard(shard.shard_id, str(at))
        self.model.split(shard.shard_id, at, self.clock.now)

    def merge(self, pick: int) -> None:
        shards = self.model.open_shards()
        if len(shards) < 2:
            return
        i = pick % (len(shards) - 1)
        self.stream.merge_shards(shards[i].shard_id, shards[i + 1].shard_id)
        self.model.merge(shards[i].shard_id, shards[i + 1].shard_id, self.clock.now)

    def check_layout(self) -> None:
        """Open shards: the engine's equal the model's, and they tile the hash space."""
        got = [
            (s["ShardId"], int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
            for s in self.stream.list_shards()
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ]
        want = [(s.shard_id, s.start, s.end) for s in self.model.open_shards()]
        assert sorted(got, key=lambda x: x[1]) == want
        assert want[0][1] == 0 and want[-1][2] == HASH_KEY_MAX
        assert all(a[2] + 1 == b[1] for a, b in zip(want, want[1:]))
        assert [s.shard_id for s in self.readable()] == [s["ShardId"] for s in self.stream.list_shards()]


# -- strategies ---------------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=40) | st.text(min_size=1, max_size=256)
hash_keys = st.none() | st.integers(0, HASH_KEY_MAX) | st.sampled_from([0, 1, HASH_KEY_MAX, HASH_KEY_MAX - 1])
datas = st.binary(max_size=12) | st.binary(min_size=10, max_size=60)
offsets = st.integers(-2, 4) | st.integers(-3, 30)
byte_limits = st.integers(0, 100) | st.just(2**31 - 1)
fractions = st.integers(0, 2**32) | st.sampled_from([0, 2**31, 2**32])
entries = st.tuples(keys, datas, hash_keys)


def boundary_hashes(ranges) -> list[int]:
    """Each range's ends and their neighbours."""
    out = set()
    for start, end in ranges:
        out.update(h for h in (start - 1, start, start + 1, end - 1, end, end + 1) if 0 <= h <= HASH_KEY_MAX)
    return sorted(out)


# -- 1. routing ---------------------------------------------------------------------------------


def test_model_spec_vectors():
    assert hash_key("a") == 16955237001963240173058271559858726497
    assert hash_key("b") == 195289424170611159128911017612795795343
    assert StreamModel(3, T0_MS).route("a").index == 0 and StreamModel(3, T0_MS).route("b").index == 1
    assert even_split(4)[1] == (85070591730234615865843651857942052864, 170141183460469231731687303715884105727)
    assert len(sequence_number(T0_MS // 1000, 3, 1, T0_MS)) == 56


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 50))
def test_create_stream_layout_is_the_even_split(n):
    stream = shardstream.Engine().create_stream("layout", n)
    ranges = [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in stream.list_shards()
    ]
    assert ranges == even_split(n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 50), batch=st.lists(entries, min_size=1, max_size=60), data=st.data())
def test_put_records_and_put_batch_route_as_the_model(n, batch, data):
    pair = Pair(n)
    edges = st.sampled_from(boundary_hashes(even_split(n)))
    batch += data.draw(st.lists(st.tuples(keys, datas, edges), max_size=20))
    pair.put_records(batch)
    pair.put_batch(batch)
    pair.put_batch(batch, ints=True)
    pair.put_batch([(k, d, None) for k, d, _ in batch])
    k, d, h = batch[0]
    pair.put_record(k, d, h)
    pair.read_table()


# -- 2. interleaved puts and reads --------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), entries),
        st.tuples(st.just("put_records"), st.lists(entries, min_size=1, max_size=20)),
        st.tuples(st.just("put_batch"), st.lists(entries, min_size=1, max_size=20)),
        st.tuples(st.just("advance"), st.sampled_from([0, 1, 999, 1000, -1500, DAY_MS // 3, DAY_MS, DAY_MS + 1])),
        st.tuples(st.just("read_log"), st.integers(0, 99), offsets, st.integers(1, 30), byte_limits),
        st.tuples(st.just("drain"), st.integers(0, 99), st.integers(1, 12)),
        st.tuples(st.just("read_at"), st.integers(0, 99), st.integers(0, 99), st.integers(1, 12)),
        st.tuples(st.just("read_table")),
    ),
    max_size=30,
)


def apply(pair: Pair, op) -> None:
    name, *args = op
    shards = pair.readable()
    if name == "put":
        pair.put_record(*args[0])
    elif name in ("put_records", "put_batch"):
        getattr(pair, name)(args[0])
    elif name == "advance":
        pair.clock.now += args[0]
    elif name == "read_log":
        pair.read_log(shards[args[0] % len(shards)], *args[1:])
    elif name == "drain":
        pair.drain(shards[args[0] % len(shards)], args[1])
    elif name == "read_at":
        pair.read_at(shards[args[0] % len(shards)], *args[1:])
    else:
        pair.read_table()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), script=ops)
def test_interleaved_puts_and_reads_match_the_model(n, script):
    pair = Pair(n)
    for op in script:
        apply(pair, op)
    pair.read_table()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    batch=st.lists(entries, min_size=4, max_size=40),
    reads=st.lists(st.tuples(st.integers(0, 99), offsets, st.integers(1, 30), byte_limits), min_size=1, max_size=8),
)
def test_shard_log_reads_with_record_and_byte_limits(n, batch, reads):
    pair = Pair(n)
    pair.put_batch(batch)
    for pick, offset, limit, max_bytes in reads:
        shards = pair.readable()
        pair.read_log(shards[pick % len(shards)], offset, limit, max_bytes)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    first=st.lists(entries, min_size=1, max_size=10),
    second=st.lists(entries, min_size=1, max_size=10),
    gaps=st.lists(st.sampled_from([0, 1, DAY_MS - 1, DAY_MS, DAY_MS + 1]), min_size=2, max_size=2),
)
def test_retention_at_its_boundary(n, first, second, gaps):
    pair = Pair(n)
    pair.put_batch(first)
    pair.clock.now += gaps[0]
    pair.put_records(second)
    pair.clock.now += gaps[1]
    for shard in pair.readable():
        pair.read_log(shard, -1, 100, 2**31 - 1)
    pair.read_table()


MIB = 2**20
# sizes near half the capacity: two records with a 1-byte key and MIB - 25 bytes of data fill it exactly
sized = st.sampled_from([0, 1, 1000, 300_000, 700_000, MIB - 25, MIB - 24, MIB - 17]).map(lambda n: b"\x07" * n)
sized_entries = st.tuples(st.text("abc", min_size=1, max_size=5), sized, hash_keys)
HALF = ("a", b"\x07" * (MIB - 25), None)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    script=st.lists(
        st.one_of(
            st.tuples(st.just("put"), sized_entries),
            st.tuples(st.just("put_records"), st.lists(sized_entries, min_size=1, max_size=5)),
            st.tuples(st.just("put_batch"), st.lists(sized_entries, min_size=1, max_size=5)),
            st.tuples(st.just("advance"), st.sampled_from([1, DAY_MS // 2, DAY_MS + 1])),
            st.tuples(st.just("drain"), st.integers(0, 99), st.integers(1, 3)),
        ),
        max_size=15,
    ),
)
@example(n=1, script=[("put_batch", [HALF, HALF]), ("put", ("a", b"", None))])  # exactly full, then one more
@example(n=1, script=[("put_records", [HALF, ("a", b"", None), HALF, HALF])])
def test_full_shards_refuse_writes_as_the_model(n, script):
    """A 2 MiB ring (the least a 1 MiB-record stream allows): back-pressure, never eviction."""
    pair = Pair(n, capacity_bytes=2 * MIB)
    for op in script:
        apply(pair, op)
    pair.read_table()


# -- 3. resharding ------------------------------------------------------------------------------

reshards = st.lists(
    st.tuples(st.just("split"), st.integers(0, 99), fractions) | st.tuples(st.just("merge"), st.integers(0, 99)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 8),
    script=reshards,
    batch=st.lists(entries, min_size=1, max_size=30),
    gap=st.sampled_from([0, 1, DAY_MS - 1, DAY_MS, DAY_MS + 1]),
)
def test_layout_and_routing_after_splits_and_merges(n, script, batch, gap):
    pair = Pair(n)
    pair.put_records(batch)
    for name, *args in script:
        pair.clock.now += 1500
        getattr(pair, name)(*args)
        pair.check_layout()
    pair.clock.now += gap  # closed shards stay listed until retention has passed since their close
    pair.check_layout()
    edges = boundary_hashes([(s.start, s.end) for s in pair.model.open_shards()])
    pair.put_batch(batch + [("edge", b"", h) for h in edges])
    pair.put_records(batch)
    for shard in pair.readable():
        pair.drain(shard, 5)
    pair.read_table()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), pick=st.integers(0, 99), offset=st.sampled_from([-1, 0, 1, 2]), side=st.booleans())
def test_invalid_reshards_are_refused_by_both(n, pick, offset, side):
    pair = Pair(n)
    shard = pair.model.open_shards()[pick % n]
    at = shard.start + 1 + offset if side else shard.end + offset
    try:
        pair.model.split(shard.shard_id, at, pair.clock.now)
        model_ok = True
    except ValueError:
        model_ok = False
    if model_ok:
        pair.stream.split_shard(shard.shard_id, str(at))
    elif 0 <= at <= HASH_KEY_MAX:
        with pytest.raises(InvalidArgumentException):
            pair.stream.split_shard(shard.shard_id, str(at))
    pair.check_layout()
    shards = pair.model.open_shards()
    if len(shards) >= 2:  # the inverted (upper, lower) pair is not adjacent
        upper, lower = shards[1], shards[0]
        with pytest.raises(ValueError):
            pair.model.merge(upper.shard_id, lower.shard_id, pair.clock.now)
        with pytest.raises(InvalidArgumentException):
            pair.stream.merge_shards(upper.shard_id, lower.shard_id)
    pair.check_layout()


# -- 4. everything, as a state machine ----------------------------------------------------------


class EngineVersusModel(RuleBasedStateMachine):
    """Puts, reads, clock advances, splits and merges on an engine stream and the model together."""

    @initialize(n=st.integers(1, 5))
    def start(self, n):
        self.pair = Pair(n)

    @rule(entry=entries)
    def put(self, entry):
        self.pair.put_record(*entry)

    @rule(batch=st.lists(entries, min_size=1, max_size=15), arrow=st.booleans())
    def put_many(self, batch, arrow):
        (self.pair.put_batch if arrow else self.pair.put_records)(batch)

    @rule(ms=st.sampled_from([1, 1000, -1500, DAY_MS // 2, DAY_MS + 1]))  # the clock may step back
    def advance(self, ms):
        self.pair.clock.now += ms

    @rule(pick=st.integers(0, 99), offset=offsets, limit=st.integers(1, 30), max_bytes=byte_limits)
    def read_log(self, pick, offset, limit, max_bytes):
        shards = self.pair.readable()
        self.pair.read_log(shards[pick % len(shards)], offset, limit, max_bytes)

    @rule(pick=st.integers(0, 99), limit=st.integers(1, 12))
    def drain(self, pick, limit):
        shards = self.pair.readable()
        self.pair.drain(shards[pick % len(shards)], limit)

    @rule()
    def read_table(self):
        self.pair.read_table()

    @rule(pick=st.integers(0, 99), fraction=fractions)
    def split(self, pick, fraction):
        self.pair.split(pick, fraction)

    @rule(pick=st.integers(0, 99))
    def merge(self, pick):
        self.pair.merge(pick)

    @invariant()
    def layout_and_tails_agree(self):
        self.pair.check_layout()
        for shard in self.pair.readable():
            assert self.pair.stream.shard_log(shard.shard_id).tail == self.pair.model.rings[shard.index].tail


TestEngineVersusModel = EngineVersusModel.TestCase
TestEngineVersusModel.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
