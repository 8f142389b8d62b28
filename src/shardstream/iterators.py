"""Shard iterators: opaque, tamper-evident tokens that name a read position.

A token is standard base64 of 152 + 16k bytes (k >= 0), laid out like
AWS's, whose iterators begin ``00 00 00 00 00 00 00 01`` (``AAAAAAAAAAE...``)::

    00 00 00 00 00 00 00 01 | version (1) | name length (1) | stream name
    | incarnation (8) | shard index (4) | position counter (8) | issued at, ms (8)
    | zero padding to the size | SipHash-2-4-128 tag of all before it (16 bytes)

tagged with a key derived from a per-engine secret (persisted with a durable engine's data, so
its tokens survive a restart).  It encodes a position, not a cursor: the same
token read twice yields the same records.  Tokens live five minutes.  Tokens
of the previous formats (version 2: HMAC-SHA256 tags; version 1: no prefix,
no padding, HMAC-SHA256) are still read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import struct
from typing import NamedTuple

from ._native import siphash24
from .errors import ExpiredIteratorException, InvalidArgumentException

__all__ = ["ITERATOR_LIFETIME_MS", "IteratorCodec", "IteratorPosition", "PageTokenCodec"]

ITERATOR_LIFETIME_MS = 300_000
_VERSION = 3  # tagged with SipHash-2-4-128
_HMAC_VERSION = 2  # tagged with HMAC-SHA256 (still read: tokens made before an upgrade)
_LEGACY_VERSION = 1
_PREFIX = bytes([0, 0, 0, 0, 0, 0, 0, 1])
_BASE_BYTES = 152
_BLOCK_BYTES = 16
_TAG_BYTES = 16
_TAIL = struct.Struct(">QIQQ")  # incarnation, shard index, position, issued ms
_VERIFIED_TOKENS = 256  # how many verified tokens an IteratorCodec remembers


class IteratorPosition(NamedTuple):
    """What a shard iterator names."""

    stream_name: str
    incarnation: int
    shard_index: int
    position: int
    issued_ms: int


def _java_date(ms: int) -> str:
    """A UTC instant as Java's ``Date.toString()`` prints it (Kinesis's messages use it)."""
    t = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return t.strftime("%a %b %d %H:%M:%S UTC %Y")


def _framing(stream_name: str) -> tuple[bytes, bytes]:
    """What precedes and follows the fixed-size tail in a token of ``stream_name``: (head, zero padding)."""
    name = stream_name.encode("utf-8")
    head = _PREFIX + bytes([_VERSION, len(name)]) + name
    unpadded = len(head) + _TAIL.size + _TAG_BYTES
    size = max(_BASE_BYTES, _BASE_BYTES + -(-(unpadded - _BASE_BYTES) // _BLOCK_BYTES) * _BLOCK_BYTES)
    return head, bytes(size - unpadded)


class IteratorCodec:
    """Makes and checks shard iterators with one secret.

    Parameters
    ----------
    secret : bytes
        HMAC key; iterators made with another key are rejected.
    """

    def __init__(self, secret: bytes):
        self._secret = bytes(secret)
        # SipHash-2-4-128's key, derived from the secret: a tag costs ~0.1 us where HMAC-SHA256 costs ~1.5 us
        # (~12 us on a cold cache, as between the records of a paced stream)
        self._tag_key = hmac.digest(self._secret, b"shardstream shard iterators", "sha256")[:16]
        # token -> what it names, for tokens verified lately: one request passes its token
        # through several layers (engine, throttle, stream), and it is decoded only once.
        self._verified: dict[str, IteratorPosition] = {}
        self._framing: dict[str, tuple[bytes, bytes]] = {}  # stream name -> the bytes around its tail

    def encode(self, stream_name: str, incarnation: int, shard_index: int, position: int, issued_ms: int) -> str:
        """A signed token naming a read position.

        Parameters
        ----------
        stream_name : str
        incarnation : int
            Tells a re-created stream of the same name from the old one.
        shard_index : int
        position : int
            The record counter in the shard the token reads from.
        issued_ms : int
            Epoch milliseconds; the token expires five minutes later.

        Returns
        -------
        str
            Standard base64 text (see the module docstring for the layout).
        """
        framing = self._framing.get(stream_name)
        if framing is None:
            if len(self._framing) >= _VERIFIED_TOKENS:
                self._framing.clear()
            framing = self._framing[stream_name] = _framing(stream_name)
        head, padding = framing
        body = head + _TAIL.pack(incarnation, shard_index, position, issued_ms) + padding
        tag = siphash24(self._tag_key, body)
        token = base64.b64encode(body + tag).decode("ascii")
        # A reader usually hands the token it was just given straight back: it then needs no check.
        self._remember(token, IteratorPosition(stream_name, incarnation, shard_index, position, issued_ms))
        return token

    def _remember(self, token: str, pos: IteratorPosition) -> None:
        verified = self._verified
        if len(verified) >= _VERIFIED_TOKENS:
            verified.clear()
        verified[token] = pos

    def decode(self, token, now_ms: int) -> IteratorPosition:
        """Check a token's integrity and age.

        Parameters
        ----------
        token : str
        now_ms : int
            The engine's clock, epoch milliseconds.

        Returns
        -------
        IteratorPosition

        Raises
        ------
        InvalidArgumentException
            ``Invalid ShardIterator.`` for anything not made by this codec.
        ExpiredIteratorException
            The token is more than five minutes old.
        """
        pos = self.verify(token)
        if now_ms - pos.issued_ms > ITERATOR_LIFETIME_MS:
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_java_date(pos.issued_ms)} while right now it "
                f"is {_java_date(now_ms)} which is further in the future than the tolerated delay of "
                f"{ITERATOR_LIFETIME_MS} milliseconds."
            )
        return pos

    def verify(self, token) -> IteratorPosition:
        """What a token names, once its integrity is checked; its age is not looked at.

        For callers that must know which stream a token reads whatever its age
        (authorization); reading goes through :meth:`decode`.

        Parameters
        ----------
        token : str

        Returns
        -------
        IteratorPosition

        Raises
        ------
        InvalidArgumentException
            ``Invalid ShardIterator.`` for anything not made by this codec.
        """
        if type(token) is str:
            pos = self._verified.get(token)
            if pos is not None:
                return pos
            pos = self._verify(token)
            self._remember(token, pos)
            return pos
        return self._verify(token)

    def _verify(self, token) -> IteratorPosition:
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise InvalidArgumentException("Invalid ShardIterator.") from None
        if raw[:1] == bytes([_LEGACY_VERSION]):
            start, padded = 0, False
        elif len(raw) >= _BASE_BYTES and (len(raw) - _BASE_BYTES) % _BLOCK_BYTES == 0 and raw[:8] == _PREFIX:
            start, padded = len(_PREFIX), True
        else:
            raise InvalidArgumentException("Invalid ShardIterator.")
        version = raw[start] if len(raw) > start else -1
        if len(raw) < start + 2 + _TAIL.size + _TAG_BYTES or version not in (_VERSION, _HMAC_VERSION, _LEGACY_VERSION):
            raise InvalidArgumentException("Invalid ShardIterator.")
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if version == _VERSION:
            expected = siphash24(self._tag_key, body)
        else:
            expected = hmac.digest(self._secret, body, "sha256")[:_TAG_BYTES]
        name_len = body[start + 1]
        end = start + 2 + name_len + _TAIL.size
        if (
            not hmac.compare_digest(tag, expected)
            or (version == _LEGACY_VERSION) == padded
            or len(body) < end
            or (not padded and len(body) != end)
            or any(body[end:])
        ):
            raise InvalidArgumentException("Invalid ShardIterator.")
        name = body[start + 2 : start + 2 + name_len].decode("utf-8")
        incarnation, shard_index, position, issued = _TAIL.unpack_from(body, start + 2 + name_len)
        return IteratorPosition(name, incarnation, shard_index, position, issued)


class PageTokenCodec:
    """Signed NextToken strings for paginated listings (valid five minutes).

    Parameters
    ----------
    secret : bytes
        HMAC key.
    """

    def __init__(self, secret: bytes):
        self._secret = bytes(secret)

    def encode(self, payload: str, issued_ms: int) -> str:
        """A signed token carrying ``payload`` (where the next page starts), issued at ``issued_ms``."""
        body = struct.pack(">Q", issued_ms) + payload.encode("utf-8")
        tag = hmac.new(self._secret, b"page" + body, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.b64encode(body + tag).decode("ascii")

    def decode(self, token, now_ms: int) -> str:
        """The payload of a token made by ``encode``.

        Parameters
        ----------
        token : str
        now_ms : int
            The engine's clock, epoch milliseconds.

        Returns
        -------
        str

        Raises
        ------
        InvalidArgumentException
            The token was not made here or was altered.
        ExpiredNextTokenException
            The token is more than five minutes old.
        """
        from .errors import ExpiredNextTokenException

        payload, issued = self.verify(token)
        if now_ms - issued > ITERATOR_LIFETIME_MS:
            raise ExpiredNextTokenException("The timestamp data in the pagination token has expired.")
        return payload

    def verify(self, token) -> tuple[str, int]:
        """(payload, issued ms) of a token made by ``encode``; its age is not looked at.

        Parameters
        ----------
        token : str

        Returns
        -------
        (str, int)

        Raises
        ------
        InvalidArgumentException
            The token was not made here or was altered.
        """
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise InvalidArgumentException("Invalid NextToken.") from None
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = hmac.new(self._secret, b"page" + body, hashlib.sha256).digest()[:_TAG_BYTES]
        if len(body) < 8 or not hmac.compare_digest(tag, expected):
            raise InvalidArgumentException("Invalid NextToken.")
        (issued,) = struct.unpack_from(">Q", body)
        try:
            return body[8:].decode("utf-8"), issued
        except UnicodeDecodeError:
            raise InvalidArgumentException("Invalid NextToken.") from None
