"""put_batch from Python lists (the native gather) against the general conversion to Arrow arrays.

Lists of ``str`` keys and ``str``/``bytes`` payloads are gathered natively; everything else goes
through ``as_key_array``/``as_payload_array`` as before.  Either way a put must give exactly what
converting the lists to Arrow first gives: the same table (shard ids, sequence numbers), the same
stored records, or the same error with the same message, with nothing written.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from conftest import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.columns import as_key_array, as_payload_array
from shardstream.stream import Stream

SURROGATE = "k\ud800"
MIB = 1024 * 1024  # the default record limit


def _pair():
    """Two fresh 4-shard streams with the same name and the same fake clock (so equal sequence numbers)."""
    clock = FakeClock()
    return [shardstream.Engine(clock=clock).create_stream("lists", 4) for _ in range(2)]


def _outcome(put):
    try:
        table = put()
    except Exception as exc:  # the error is the outcome being compared
        return ("error", type(exc), str(exc))
    return ("ok", table.column("shard_id").to_pylist(), table.column("sequence_number").to_pylist(), table.schema)


def _stored(stream):
    table = stream.read_table()
    return sorted(
        zip(
            table.column("shard_id").to_pylist(),
            table.column("sequence_number").to_pylist(),
            table.column("partition_key").to_pylist(),
            table.column("data").to_pylist(),
        )
    )


def _arrow_put(stream, keys, data, ehk=None):
    """The path lists took before the native gather: the general conversion, then put_batch of arrays."""
    key_array = None if keys is None else as_key_array(keys)
    return stream.put_batch(key_array, as_payload_array(data), ehk)


def check_same(keys, data, ehk=None):
    """put_batch(lists) and put_batch(converted arrays) on twin streams agree on everything."""
    listed, arrowed = _pair()
    got = _outcome(lambda: listed.put_batch(keys, data, ehk))
    want = _outcome(lambda: _arrow_put(arrowed, keys, data, ehk))
    assert got == want
    assert _stored(listed) == _stored(arrowed)
    return got


def test_ascii_keys_bytes_payloads():
    keys = [f"key-{i}" for i in range(500)]
    got = check_same(keys, [b"%d" % i * (i % 7) for i in range(500)])
    assert got[0] == "ok" and len(got[2]) == 500


def test_non_ascii_keys_and_str_payloads():
    keys = ["é", "日本語キー", "emoji-😀", "plain"] * 20
    data = ["dätä", "", "😀" * 30, "x"] * 20
    assert check_same(keys, data)[0] == "ok"
    assert check_same(keys, [d.encode() for d in data])[0] == "ok"


def test_tuples_are_lists():
    assert check_same(("a", "b", "c"), (b"1", b"22", b"333"))[0] == "ok"


@pytest.mark.parametrize(
    "keys, data",
    [
        ([SURROGATE, "b"], [b"1", b"2"]),  # a key that is not valid UTF-8
        (["a", "b"], ["ok", "x\udfff"]),  # a payload that is not valid UTF-8
        (["a", None], [b"1", b"2"]),
        (["a", "b"], [b"1", None]),
        ([None, None], [b"1", b"2"]),
        (["a", "b"], [None, None]),
        (["a", 1], [b"1", b"2"]),
        (["a", "b"], [b"1", 2]),
        ([b"a", b"b"], [b"1", b"2"]),  # bytes keys: cast to strings
        ([b"\xff", b"b"], [b"1", b"2"]),  # ... that must be UTF-8
        (["a", "b"], [b"1", "2"]),  # mixed str and bytes payloads
        (["a", "b"], ["1", b"2"]),
        (["a", "b"], [bytearray(b"1"), bytearray(b"22")]),
        (["a", "b"], [memoryview(b"1"), memoryview(b"22")]),
        (["a", "b", "c"], [b"1", b"2"]),  # mismatched lengths
        (["a"], [b"1", b"2"]),
        ([], []),
        ([], [b"1"]),
        (["", "b"], [b"1", b"2"]),  # a key too short
        (["a", "k" * 257], [b"1", b"2"]),  # too long
        (["a", "é" * 256], [b"1", b"2"]),  # 256 characters, 512 bytes: fine
        (["a", "é" * 257], [b"1", b"2"]),
        (["a", "b"], [b"1", b"x" * (MIB + 1)]),  # data over the record limit
        (["a", "k" * 10], [b"1", b"x" * (MIB - 5)]),  # key + data over it
        (["a", "b"], ["1", "é" * (MIB // 2 + 1)]),  # a str payload over it in bytes, not characters
        (["a", "b"], ["1", "é" * (MIB // 2 - 1)]),  # under it
    ],
)
def test_same_result_or_error(keys, data):
    check_same(keys, data)


def test_keyless_and_hash_keys():
    check_same(None, [b"1", b"2"])  # USER_PARTITION_KEY: keys are required
    check_same(["a", "b"], [b"1", b"2"], ["0", None])
    check_same(["a", "b"], [b"1", b"2"], ["0", "x"])
    check_same(["a", "b", "c"], [b"1", b"2", b"3"], ["0", None])


def test_items_past_the_sample_grow_the_buffer():
    """The buffer is sized from the first 64 items: longer ones after them make it grow."""
    keys = ["k"] * 64 + ["long-key-" * 25] * 3000
    data = [b""] * 64 + [b"y" * 900] * 3000
    assert check_same(keys, data)[0] == "ok"


def test_text_column_matches_pyarrow():
    keys = ["a", "日本", "x" * 300]
    assert Stream._text_column(keys, True).equals(pa.array(keys))
    assert Stream._text_column([b"1", b""], False).equals(pa.array([b"1", b""]))
    for values in ([], [b"1"], ["a", None], ["a", b"b"], [SURROGATE], "abc", [bytearray(b"x")]):
        assert Stream._text_column(values, True) is None  # converted as before ([b"1"]: keys must be str)


_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["", "k" * 257, "é" * 257, SURROGATE])
_payload = st.binary(max_size=300) | st.text(max_size=100) | st.just(b"x" * (MIB + 1))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(_text, _payload), max_size=40),
    extra_key=st.none() | _text | st.just(None),
    none_at=st.none() | st.integers(0, 39),
    uniform=st.sampled_from(["bytes", "str", "mixed"]),
)
def test_lists_match_arrow_property(rows, extra_key, none_at, uniform):
    keys = [k for k, _ in rows]
    if uniform == "bytes":
        data = [d if isinstance(d, bytes) else d.encode("utf-8", "surrogatepass") for _, d in rows]
    elif uniform == "str":
        data = [d if isinstance(d, str) else d.hex() for _, d in rows]
    else:
        data = [d for _, d in rows]
    if extra_key is not None:
        keys.append(extra_key)  # one key more than payloads
    if none_at is not None and none_at < len(data):
        data[none_at] = None
    check_same(keys, data)
