"""Sealed batches: AES-256-GCM over a stored batch's partition keys and payloads.

This module's one job is the bytes of an encrypted batch.  A batch written
while its stream encrypts (StartStreamEncryption) keeps the stored schema and
its shape: the ``partition_key`` and ``data`` columns keep their offsets (so
record sizes, counters, arrival times and shard ids stay readable, as they
do for Kinesis), and their value buffers hold one AES-256-GCM ciphertext,
partition keys first, then payloads.  The record batch message's custom
metadata (the batch header, beside the CRC-32 of :mod:`.format`) holds:

``shardstream.kms.key``    the key's canonical name in the key store (:mod:`shardstream.keys`)
``shardstream.kms.nonce``  a random 96-bit nonce, hex
``shardstream.kms.tag``    the 128-bit GCM tag, hex
``shardstream.kms.check``  8 bytes telling this key's material from another's, hex

The authenticated data binds the ciphertext to where it belongs: the
stream's directory (name and incarnation), the shard's directory, the
batch's first and last counters, its row count and the key's name, so a
batch copied into another shard, stream or position fails its tag.

The CRC-32 covers the stored (encrypted) bytes, so recovery needs no key to
find a torn tail; with the key it also checks each tag.  A tag that does not
match raises :class:`~.format.CorruptSegmentError`, as a CRC-32 mismatch does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import KMSAccessDeniedException, KMSError, KMSNotFoundException
from .format import CorruptSegmentError, batch_counters

__all__ = [
    "KEY_METADATA_KEY",
    "NONCE_METADATA_KEY",
    "SEALED_COLUMNS",
    "BatchCipher",
    "is_sealed",
    "require_cryptography",
]

KEY_METADATA_KEY = "shardstream.kms.key"
NONCE_METADATA_KEY = "shardstream.kms.nonce"
_NONCE = NONCE_METADATA_KEY.encode()
_TAG = b"shardstream.kms.tag"
_CHECK = b"shardstream.kms.check"
_KEY = KEY_METADATA_KEY.encode()
#: The columns whose values are encrypted, in the order they enter the cipher.
SEALED_COLUMNS = ("partition_key", "data")
_AAD_LABEL = b"shardstream-sse-1"


def require_cryptography():
    """The ``cryptography`` modules encryption at rest uses, or a clear ImportError.

    Returns
    -------
    tuple
        ``(Cipher, algorithms, modes, InvalidTag)``.

    Raises
    ------
    ImportError
        ``cryptography`` is not installed (``pip install 'shardstream[encryption]'``).
    """
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as exc:
        raise ImportError(
            "encryption at rest needs the 'cryptography' module: pip install 'shardstream[encryption]'"
        ) from exc
    return Cipher, algorithms, modes, InvalidTag


def is_sealed(metadata) -> bool:
    """True if a batch's custom metadata says it was sealed (encrypted).

    Parameters
    ----------
    metadata : mapping of bytes to bytes or None
        As :meth:`pyarrow.ipc.RecordBatchStreamReader.read_next_batch_with_custom_metadata` returns it.
    """
    return metadata is not None and _KEY in metadata


def _values(arr: pa.Array):
    """``(offsets, first, last, values)`` of a binary/string array without nulls."""
    if arr.null_count:
        raise ValueError("sealed columns must not hold nulls")
    buffers = arr.buffers()
    width = np.int64 if pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type) else np.int32
    n = len(arr)
    offsets = np.frombuffer(buffers[1], dtype=width, count=arr.offset + n + 1)[arr.offset :]
    first, last = int(offsets[0]), int(offsets[n])
    data = buffers[2]
    values = memoryview(b"") if data is None or last == first else memoryview(data).cast("B")[first:last]
    return offsets, first, values


def _rebuilt(arr: pa.Array, offsets: np.ndarray, first: int, values: bytes) -> pa.Array:
    """``arr`` with its values replaced by ``values`` (same lengths), unsliced."""
    offset_buffer = pa.py_buffer(offsets - offsets.dtype.type(first)) if first or arr.offset else arr.buffers()[1]
    return pa.Array.from_buffers(arr.type, len(arr), [None, offset_buffer, pa.py_buffer(values)], null_count=0)


def _transformed(batch: pa.RecordBatch, context) -> list:
    """``batch``'s columns, the sealed ones' values passed through ``context.update`` (an AES-GCM en- or decryptor)."""
    columns = list(batch.columns)
    for name in SEALED_COLUMNS:
        i = batch.schema.get_field_index(name)
        offsets, first, values = _values(columns[i])
        columns[i] = _rebuilt(columns[i], offsets, first, context.update(values))
    return columns


class BatchCipher:
    """Seals and opens the batches of one shard's segment log.

    Parameters
    ----------
    keys : KeyStore or None
        Where keys come from; None: sealed batches cannot be opened
        (:class:`~shardstream.errors.KMSNotFoundException`) and none can be sealed.
    context : str
        What the authenticated data names the log by (see :meth:`for_directory`).
    """

    def __init__(self, keys, context: str):
        self.keys = keys
        self.context = context

    @classmethod
    def for_directory(cls, keys, directory) -> BatchCipher:
        """The cipher of the segment log in ``directory`` (``<stream dir>/shards/<shard dir>``).

        The context is ``<stream dir name>/<shard dir name>``: the stream's
        name and incarnation and the shard, wherever the data directory lies.

        Parameters
        ----------
        keys : KeyStore or None
        directory : path-like
            The shard's segment directory.

        Returns
        -------
        BatchCipher
        """
        path = Path(directory)
        return cls(keys, f"{path.parent.parent.name}/{path.name}")

    def _aad(self, batch: pa.RecordBatch, key: str) -> bytes:
        counters = batch_counters(batch)
        parts = (self.context, int(counters[0]), int(counters[-1]), batch.num_rows, key)
        return b"\0".join([_AAD_LABEL, *(str(p).encode() for p in parts)])

    def _material(self, key_id: str) -> bytes:
        if self.keys is None:
            raise KMSNotFoundException(
                f"Key '{key_id}' cannot be used: no key store is configured "
                "(Engine(keys=...), shardstream serve --kms-keys FILE)."
            )
        return self.keys.material(key_id)

    def seal(self, batch: pa.RecordBatch, key_id: str) -> tuple[pa.RecordBatch, dict]:
        """``batch`` with its partition keys and payloads encrypted, and the header entries to store.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            A stored-schema batch (non-empty).
        key_id : str
            The key's canonical name in the key store.

        Returns
        -------
        (pyarrow.RecordBatch, dict)
            The sealed batch (new value buffers, same offsets) and the custom
            metadata entries of its header.

        Raises
        ------
        KMSError
            The key is missing, disabled or pending deletion.
        ImportError
            ``cryptography`` is not installed.
        """
        Cipher, algorithms, modes, _ = require_cryptography()
        material = self._material(key_id)
        nonce = os.urandom(12)
        encryptor = Cipher(algorithms.AES(material), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(self._aad(batch, key_id))
        columns = _transformed(batch, encryptor)
        encryptor.finalize()
        header = {
            KEY_METADATA_KEY: key_id,
            _NONCE.decode(): nonce.hex(),
            _TAG.decode(): encryptor.tag.hex(),
            _CHECK.decode(): self.keys.check_value(key_id).hex(),
        }
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema), header

    def open(self, batch: pa.RecordBatch, metadata, path, offset: int) -> pa.RecordBatch:
        """``batch`` as it was before :meth:`seal`, or ``batch`` itself if it was never sealed.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            A stored batch as read.
        metadata : mapping or None
            Its custom metadata.
        path : path-like
        offset : int
            Where the batch's message lies (for errors).

        Returns
        -------
        pyarrow.RecordBatch

        Raises
        ------
        CorruptSegmentError
            The batch's tag does not match: its bytes were changed, or it was
            moved from where it was written.
        KMSNotFoundException, KMSDisabledException, KMSInvalidStateException
            The key is missing (or there is no key store), disabled, or pending deletion.
        KMSAccessDeniedException
            The key store's key of that name is not the one the batch was sealed with.
        ImportError
            ``cryptography`` is not installed.
        """
        if not is_sealed(metadata):
            return batch
        key_id = metadata[_KEY].decode()
        try:
            nonce, tag, check = (bytes.fromhex(metadata[k].decode()) for k in (_NONCE, _TAG, _CHECK))
        except (KeyError, ValueError) as exc:
            raise CorruptSegmentError(path, offset, f"sealed batch with a damaged header ({exc})") from None
        if len(nonce) != 12 or len(tag) != 16:
            raise CorruptSegmentError(path, offset, "sealed batch with a damaged header (nonce or tag length)")
        Cipher, algorithms, modes, InvalidTag = require_cryptography()
        material = self._material(key_id)
        if self.keys.check_value(key_id) != check:
            raise KMSAccessDeniedException(
                f"The KMS key {key_id} in the key store is not the key this stream's records were encrypted with."
            )
        decryptor = Cipher(algorithms.AES(material), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(self._aad(batch, key_id))
        columns = _transformed(batch, decryptor)
        try:
            decryptor.finalize()
        except InvalidTag:
            raise CorruptSegmentError(
                path, offset, "AES-GCM tag mismatch (the encrypted batch was changed or moved)"
            ) from None
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

    def problem(self, batch: pa.RecordBatch, metadata) -> str | None:
        """What is wrong with a sealed batch's tag, for recovery (None if fine or not checkable).

        A batch whose key is unavailable (or without ``cryptography``) is not
        checked here: its CRC-32 still is, and reading it raises the KMS error.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            A stored batch as read.
        metadata : mapping or None
            Its custom metadata.

        Returns
        -------
        str or None
        """
        if not is_sealed(metadata) or self.keys is None:
            return None
        try:
            self.open(batch, metadata, "", 0)
        except CorruptSegmentError as exc:
            return exc.reason
        except (KMSError, ImportError):
            return None
        return None
