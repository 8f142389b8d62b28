"""Receipt handles of queue deliveries: opaque, signed, one per delivery.

A handle is URL-safe base64 (no padding, 56 characters) of::

    queue serial (8) | kind (1: 0 normal, 1 dead letter) | shard index (4) | counter (8)
    | delivery nonce (8) | tag (13)

big-endian, where the tag is the first 13 bytes of the body's SipHash-2-4-128
under a key derived from the engine's secret (the one that signs shard
iterators).  The nonce is new on every delivery, so a handle stops working
once its record is acknowledged or delivered again; the serial names one
queue, so a deleted queue's handles match nothing.  Whole batches are made
and checked in C (:mod:`shardstream._receipts`, through :mod:`._native`).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from ._native import decode_handles, encode_handles

__all__ = ["HandleCodec", "ReceiptHandle"]

_BODY = np.dtype([("queue", ">u8"), ("kind", "u1"), ("shard", ">u4"), ("counter", ">u8"), ("nonce", ">u8")])


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
        self._key = hashlib.sha256(b"shardstream receipt handles" + secret).digest()[:16]

    def encode_many(
        self, queue: int, kind: int, shard: int, counters: np.ndarray, nonces: np.ndarray
    ) -> pa.StringArray:
        """Handles for deliveries of ``counters`` of one shard with ``nonces``.

        Parameters
        ----------
        queue, kind, shard : int
            The queue's serial, 0 (normal) or 1 (dead letter), the shard index.
        counters, nonces : numpy arrays of int

        Returns
        -------
        pyarrow.StringArray
            One 56-character handle per counter.
        """
        return encode_handles(self._key, queue, kind, shard, counters, nonces)

    def decode_many(self, handles) -> tuple[np.ndarray, np.ndarray]:
        """What each of ``handles`` names, and which are genuine.

        Parameters
        ----------
        handles : list of str, or a pyarrow (chunked) string array
            Anything else in the list (or a null) is simply not genuine.

        Returns
        -------
        (numpy.ndarray of bool, numpy structured array)
            Per handle: whether it is one of this codec's, and its fields
            (``queue``, ``kind``, ``shard``, ``counter``, ``nonce``; zero where not genuine).
        """
        ok, raw = decode_handles(self._key, handles)
        return ok, raw.view(_BODY).reshape(len(ok))

    def decode(self, handle) -> ReceiptHandle | None:
        """What ``handle`` names, or None if it is not one of this codec's.

        Parameters
        ----------
        handle : str
        """
        ok, bodies = self.decode_many([handle])
        if not ok[0]:
            return None
        row = bodies[0]
        return ReceiptHandle(
            int(row["queue"]), int(row["kind"]), int(row["shard"]), int(row["counter"]), int(row["nonce"])
        )
