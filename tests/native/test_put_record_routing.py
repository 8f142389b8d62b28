"""put_record routes by its own single-key MD5 (ss_md5_key.h): the shard of every key, of every UTF-8
length (one padded block up to 55 bytes, several beyond), is the one hashlib's MD5 picks."""

from __future__ import annotations

import random

import pytest
from conftest import ref_shard_for_key, shard_id

import shardstream

SHARDS = 1000  # 1,000 uniform ranges: a wrong digest lands elsewhere ~99.9% of the time
ALPHABETS = {"ascii": "abcXYZ019-_:", "2-byte": "éßλж", "3-byte": "€中文字", "4-byte": "😀𝄞🐍"}


@pytest.mark.parametrize("alphabet", sorted(ALPHABETS))
def test_put_record_shard_matches_hashlib_for_every_key_length(alphabet):
    rng = random.Random(alphabet)
    s = shardstream.Engine(shard_limit=None).create_stream("r", SHARDS)
    chars = ALPHABETS[alphabet]
    for n in range(1, 257):
        for _ in range(3):
            key = "".join(rng.choice(chars) for _ in range(n))
            assert s.put_record(b"x", key)["ShardId"] == shard_id(ref_shard_for_key(key, SHARDS)), (n, key)
