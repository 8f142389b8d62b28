"""Receipt handles of queue deliveries: opaque, signed, one per delivery.

A handle is URL-safe base64 (no padding) of::

    queue serial (8) | kind (1: 0 normal, 1 dead letter) | shard index (4) | counter (8)
    | delivery nonce (8) | keyed BLAKE2b tag of all before it (12)

signed with the engine's secret (the one that signs shard iterators).  The
nonce is new on every delivery, so a handle stops working once its record is
acknowledged or delivered again; the serial names one queue, so a deleted
queue's handles match nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import NamedTuple

import numpy as np

__all__ = ["HandleCodec", "ReceiptHandle"]

_BODY = np.dtype([("queue", ">u8"), ("kind", "u1"), ("shard", ">u4"), ("counter", ">u8"), ("nonce", ">u8")])
_TAG_BYTES = 12


class ReceiptHandle(NamedTuple):
    """What a receipt handle names."""

    queue: int
    kind: int
    shard: int
    counter: int
    nonce: int


class HandleCodec:
    """Makes and checks receipt handles with one secret.

    Parameters
    ----------
    secret : bytes
        The engine's signing secret.
    """

    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"shardstream receipt handles" + secret).digest()

    def encode_many(self, queue: int, kind: int, shard: int, counters: np.ndarray, nonces: np.ndarray) -> list[str]:
        """Handles for deliveries of ``counters`` of one shard with ``nonces``.

        Parameters
        ----------
        queue, kind, shard : int
            The queue's serial, 0 (normal) or 1 (dead letter), the shard index.
        counters, nonces : numpy arrays of int
        """
        body = np.empty(len(counters), _BODY)
        body["queue"], body["kind"], body["shard"] = queue, kind, shard
        body["counter"], body["nonce"] = counters, nonces
        raw = body.tobytes()
        size = _BODY.itemsize
        key = self._key
        out = []
        for i in range(0, len(raw), size):
            chunk = raw[i : i + size]
            tag = hashlib.blake2b(chunk, key=key, digest_size=_TAG_BYTES).digest()
            out.append(base64.urlsafe_b64encode(chunk + tag).rstrip(b"=").decode("ascii"))
        return out

    def decode(self, handle) -> ReceiptHandle | None:
        """What ``handle`` names, or None if it is not one of this codec's.

        Parameters
        ----------
        handle : str
        """
        if not isinstance(handle, str) or len(handle) > 64:
            return None
        try:
            raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
        except (binascii.Error, ValueError):
            return None
        size = _BODY.itemsize
        if len(raw) != size + _TAG_BYTES:
            return None
        body, tag = raw[:size], raw[size:]
        if not hmac.compare_digest(hashlib.blake2b(body, key=self._key, digest_size=_TAG_BYTES).digest(), tag):
            return None
        row = np.frombuffer(body, _BODY)[0]
        return ReceiptHandle(
            int(row["queue"]), int(row["kind"]), int(row["shard"]), int(row["counter"]), int(row["nonce"])
        )
