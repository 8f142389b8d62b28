"""Receipt handles in C (``shardstream._receipts`` through ``_native``): SipHash-2-4 as published
and as a plain Python reference computes it; handles laid out as documented; a batch round-trips;
changing any byte or character, or any other malformation, makes a handle not genuine (never an
exception); list, Arrow and chunked Arrow input agree."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream._native import decode_handles, encode_handles, siphash24
from shardstream.queue_handles import HandleCodec, ReceiptHandle

FAST = settings(max_examples=200, deadline=None)
MASK = 2**64 - 1
KEY = bytes(range(16))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def _round(v: list[int]) -> None:
    v[0] = (v[0] + v[1]) & MASK
    v[1] = _rotl(v[1], 13) ^ v[0]
    v[0] = _rotl(v[0], 32)
    v[2] = (v[2] + v[3]) & MASK
    v[3] = _rotl(v[3], 16) ^ v[2]
    v[0] = (v[0] + v[3]) & MASK
    v[3] = _rotl(v[3], 21) ^ v[0]
    v[2] = (v[2] + v[1]) & MASK
    v[1] = _rotl(v[1], 17) ^ v[2]
    v[2] = _rotl(v[2], 32)


def siphash_reference(key: bytes, data: bytes, size: int = 16) -> bytes:
    """SipHash-2-4 straight from the paper's description, in plain Python."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    if size == 16:
        v[1] ^= 0xEE
    whole = len(data) - len(data) % 8
    last = int.from_bytes(data[whole:], "little") | ((len(data) & 0xFF) << 56)
    for m in [int.from_bytes(data[i : i + 8], "little") for i in range(0, whole, 8)] + [last]:
        v[3] ^= m
        _round(v)
        _round(v)
        v[0] ^= m
    v[2] ^= 0xEE if size == 16 else 0xFF
    for _ in range(4):
        _round(v)
    out = (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    if size == 16:
        v[1] ^= 0xDD
        for _ in range(4):
            _round(v)
        out += (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    return out


# The reference implementation's vectors (key 00..0f, message 00..len-1): SipHash-2-4 as a 64-bit
# integer, and SipHash-2-4-128 as bytes.
VECTORS_64 = {0: 0x726FDB47DD0E0E31, 1: 0x74F839C593DC67FD, 15: 0xA129CA6149BE45E5}
VECTORS_128 = {
    0: "a3817f04ba25a8e66df67214c7550293",
    1: "da87c1d86b99af44347659119b22fc45",
    2: "8177228da4a45dc7fca38bdef60affe4",
}


@pytest.mark.parametrize("length", sorted(VECTORS_64))
def test_siphash_64_published_vectors(length):
    message = bytes(range(length))
    expected = VECTORS_64[length].to_bytes(8, "little")
    assert siphash24(KEY, message, 8) == expected
    assert siphash_reference(KEY, message, 8) == expected


@pytest.mark.parametrize("length", sorted(VECTORS_128))
def test_siphash_128_published_vectors(length):
    message = bytes(range(length))
    assert siphash24(KEY, message).hex() == VECTORS_128[length]
    assert siphash_reference(KEY, message).hex() == VECTORS_128[length]


@FAST
@given(st.binary(min_size=16, max_size=16), st.binary(max_size=80), st.sampled_from([8, 16]))
def test_siphash_matches_the_python_reference(key, data, size):
    assert siphash24(key, data, size) == siphash_reference(key, data, size)


def test_siphash_refuses_a_wrong_key_or_size():
    with pytest.raises(ValueError):
        siphash24(b"short", b"x")
    with pytest.raises(ValueError):
        siphash24(KEY, b"x", 4)


def test_handle_layout():
    """56 URL-safe characters of body (big-endian) + the first 13 bytes of the body's SipHash-2-4-128."""
    handles = encode_handles(KEY, 2**64 - 1, 1, 2**32 - 1, np.array([5, -1]), np.array([7, 2**63 - 1]))
    assert isinstance(handles, pa.StringArray) and handles.null_count == 0
    assert np.frombuffer(handles.buffers()[1], np.int32)[:3].tolist() == [0, 56, 112]
    for text, counter, nonce in zip(handles.to_pylist(), [5, 2**64 - 1], [7, 2**63 - 1]):
        assert len(text) == 56 and set(text) <= set(ALPHABET)
        raw = base64.urlsafe_b64decode(text)
        body = struct.pack(">QBIQQ", 2**64 - 1, 1, 2**32 - 1, counter, nonce)
        assert raw == body + siphash_reference(KEY, body)[:13]


@FAST
@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)), max_size=40),
)
def test_round_trip(queue, kind, shard, pairs):
    counters = np.array([c for c, _ in pairs], np.int64)
    nonces = np.array([n for _, n in pairs], np.int64)
    handles = encode_handles(KEY, queue, kind, shard, counters, nonces)
    assert len(handles) == len(pairs)
    for given_handles in (handles, handles.to_pylist(), pa.chunked_array([handles[:3], handles[3:]], pa.string())):
        ok, bodies = decode_handles(KEY, given_handles)
        assert ok.dtype == np.bool_ and ok.all()
        expected = b"".join(struct.pack(">QBIQQ", queue, kind, shard, c & MASK, n & MASK) for c, n in pairs)
        assert bodies.shape == (len(pairs), 29) and bodies.tobytes() == expected
    ok, _ = decode_handles(bytes(16), handles)  # another key: none genuine
    assert not ok.any()


def test_every_changed_byte_or_character_fails():
    [text] = encode_handles(KEY, 3, 0, 9, np.array([123]), np.array([456])).to_pylist()
    raw = base64.urlsafe_b64decode(text)
    tampered = []
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            changed = bytearray(raw)
            changed[i] ^= bit
            tampered.append(base64.urlsafe_b64encode(bytes(changed)).decode())
    for i, char in enumerate(text):
        tampered += [text[:i] + other + text[i + 1 :] for other in ALPHABET[::7] if other != char]
    ok, bodies = decode_handles(KEY, [text, *tampered])
    assert ok[0] and not ok[1:].any()
    assert not bodies[1:].any()


def test_malformed_handles_are_not_genuine_and_never_raise():
    [good] = encode_handles(KEY, 1, 0, 0, np.array([1]), np.array([1])).to_pylist()
    bad = [
        good[:-1],
        good + "A",
        "",
        good[:-1] + "é",  # 56 characters, not ASCII
        good[:-1] + "=",
        good[:-1] + "+",
        good[:-1] + "/",
        " " + good[1:],
        good[:-1] + "\x00",
        "=" * 56,
        None,
        12,
        good.encode(),
        [good],
    ]
    ok, bodies = decode_handles(KEY, [good, *bad, good])
    assert ok.tolist() == [True] + [False] * len(bad) + [True]
    assert not bodies[1:-1].any() and (bodies[0] == bodies[-1]).all()
    ok, _ = decode_handles(KEY, [])
    assert ok.shape == (0,)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_arrow_input_with_nulls_slices_and_wrong_lengths(kind):
    good = encode_handles(KEY, 4, 1, 2, np.arange(6), np.arange(6) + 10).to_pylist()
    values = [good[0], None, good[1], good[2][:-1], good[3], "x" * 56, good[4], "ü" * 28, good[5]]
    array = pa.array(values, kind)
    expected = [True, False, True, False, True, False, True, False, True]
    assert decode_handles(KEY, array)[0].tolist() == expected
    assert decode_handles(KEY, array.slice(2, 5))[0].tolist() == expected[2:7]
    chunked = pa.chunked_array([array.slice(0, 4), array.slice(4)])
    ok, bodies = decode_handles(KEY, chunked)
    assert ok.tolist() == expected
    assert (bodies == decode_handles(KEY, values)[1]).all()
    with pytest.raises(TypeError):
        decode_handles(KEY, pa.array([1, 2]))


def test_encode_refuses_mismatched_input():
    with pytest.raises(ValueError):
        encode_handles(KEY, 1, 0, 0, np.arange(3), np.arange(2))
    with pytest.raises(ValueError):
        encode_handles(KEY, 1, 256, 0, np.arange(1), np.arange(1))
    with pytest.raises(ValueError):
        encode_handles(b"k", 1, 0, 0, np.arange(1), np.arange(1))


def test_handle_codec_round_trip_and_secrets():
    codec, other = HandleCodec(b"secret"), HandleCodec(b"another")
    handles = codec.encode_many(7, 1, 3, np.array([10, 11]), np.array([20, 21]))
    assert codec.decode(handles[1].as_py()) == ReceiptHandle(7, 1, 3, 11, 21)
    assert other.decode(handles[1].as_py()) is None
    assert codec.decode(None) is None and codec.decode("x") is None
    ok, fields = codec.decode_many([*handles.to_pylist(), "nope"])
    assert ok.tolist() == [True, True, False]
    assert fields["counter"].tolist() == [10, 11, 0] and fields["nonce"].tolist() == [20, 21, 0]
    assert codec.decode_many(handles)[0].all()
