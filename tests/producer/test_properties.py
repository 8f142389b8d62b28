"""Properties: any mix of record sizes and keys arrives once, and no call breaks a limit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import Producer

from .helpers import RecordingStream, user_records

MIB = 1024 * 1024

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=256)
sizes = st.one_of(st.integers(0, 300), st.integers(0, 20_000), st.integers(MIB - 2000, MIB - 1024))
records = st.lists(st.tuples(keys, sizes), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=records,
    aggregate=st.booleans(),
    max_batch_records=st.integers(1, 500),
    max_batch_bytes=st.integers(1, 5 * MIB),
    shards=st.integers(1, 5),
)
def test_every_record_arrives_once_and_no_call_breaks_a_limit(
    records, aggregate, max_batch_records, max_batch_bytes, shards
):
    stream = shardstream.Engine().create_stream("p", shard_count=shards)
    recording = RecordingStream(stream)
    sent = []
    with Producer(
        recording,
        linger_ms=0,
        aggregate=aggregate,
        max_batch_records=max_batch_records,
        max_batch_bytes=max_batch_bytes,
    ) as producer:
        futures = []
        for i, (key, size) in enumerate(records):
            data = i.to_bytes(4, "big") * (size // 4) + b"#" * (size % 4)
            sent.append((key, data))
            futures.append(producer.send(data, key))
    assert all(f.exception() is None for f in futures)
    for n, nbytes in recording.calls:
        assert 1 <= n <= min(500, max_batch_records)
        assert nbytes <= 5 * MIB
        assert n == 1 or nbytes <= max_batch_bytes  # one record bigger than the batch budget goes alone
    got = sorted((key, data) for _, _, _, key, data in user_records(stream))
    assert got == sorted(sent)
    for f, (key, _) in zip(futures, sent):
        assert f.result()["ShardId"].startswith("shardId-")
