"""Receipt handles of queue deliveries: opaque, signed, one per delivery.

A handle is URL-safe base64 (no padding) of::

    queue serial (8) | kind (1: 0 normal, 1 dead letter) | shard index (4) | counter (8)
    | delivery nonce (8) | keyed BLAKE2b tag of all before it (13)

signed with the engine's secret (the one that signs shard iterators).  The
nonce is new on every delivery, so a handle stops working once its record is
acknowledged or delivered again; the serial names one queue, so a deleted
queue's handles match nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import NamedTuple

import numpy as np

__all__ = ["HandleCodec", "ReceiptHandle"]

_BODY = np.dtype([("queue", ">u8"), ("kind", "u1"), ("shard", ">u4"), ("counter", ">u8"), ("nonce", ">u8")])
_TAG_BYTES = 13  # body + tag = 42 bytes: a multiple of 3, so handles base64-encode (and decode) joined
_RAW_BYTES = _BODY.itemsize + _TAG_BYTES
_TEXT_CHARS = _RAW_BYTES // 3 * 4


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

    def _tags(self, bodies: np.ndarray) -> np.ndarray:
        key, size = self._key, _BODY.itemsize
        raw = bodies.tobytes()
        tags = b"".join(
            hashlib.blake2b(raw[i : i + size], key=key, digest_size=_TAG_BYTES).digest()
            for i in range(0, len(raw), size)
        )
        return np.frombuffer(tags, np.uint8).reshape(len(bodies), _TAG_BYTES)

    def encode_many(self, queue: int, kind: int, shard: int, counters: np.ndarray, nonces: np.ndarray) -> list[str]:
        """Handles for deliveries of ``counters`` of one shard with ``nonces``.

        Parameters
        ----------
        queue, kind, shard : int
            The queue's serial, 0 (normal) or 1 (dead letter), the shard index.
        counters, nonces : numpy arrays of int
        """
        n = len(counters)
        body = np.empty(n, _BODY)
        body["queue"], body["kind"], body["shard"] = queue, kind, shard
        body["counter"], body["nonce"] = counters, nonces
        raw = np.empty((n, _RAW_BYTES), np.uint8)
        raw[:, : _BODY.itemsize] = body.view(np.uint8).reshape(n, _BODY.itemsize)
        raw[:, _BODY.itemsize :] = self._tags(body)
        text = base64.urlsafe_b64encode(raw.tobytes()).decode("ascii")
        return [text[i : i + _TEXT_CHARS] for i in range(0, len(text), _TEXT_CHARS)]

    def decode_many(self, handles: list) -> tuple[np.ndarray, np.ndarray]:
        """What each of ``handles`` names, and which are genuine.

        Parameters
        ----------
        handles : list of str

        Returns
        -------
        (numpy.ndarray of bool, numpy structured array)
            Per handle: whether it is one of this codec's, and its fields
            (``queue``, ``kind``, ``shard``, ``counter``, ``nonce``; zero where not genuine).
        """
        n = len(handles)
        ok = np.array([isinstance(h, str) and len(h) == _TEXT_CHARS and h.isascii() for h in handles], bool)
        raw = np.zeros((n, _RAW_BYTES), np.uint8)
        if ok.any():
            text = "".join(h for h, good in zip(handles, ok.tolist()) if good)
            try:
                decoded = base64.b64decode(text, altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):  # decode them one by one to find the bad ones
                decoded = None
            if decoded is None:
                for i in np.flatnonzero(ok).tolist():
                    try:
                        raw[i] = np.frombuffer(base64.b64decode(handles[i], altchars=b"-_", validate=True), np.uint8)
                    except (binascii.Error, ValueError):
                        ok[i] = False
            else:
                raw[ok] = np.frombuffer(decoded, np.uint8).reshape(-1, _RAW_BYTES)
        bodies = np.ascontiguousarray(raw[:, : _BODY.itemsize]).view(_BODY).reshape(n)
        if ok.any():
            rows = np.flatnonzero(ok)
            expected = self._tags(bodies[rows])
            ok[rows] = (expected == raw[rows, _BODY.itemsize :]).all(axis=1)
        bodies[~ok] = np.zeros(1, _BODY)
        return ok, bodies

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
