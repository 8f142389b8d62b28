"""One segment file: :class:`SegmentWriter` appends CRC-framed batches to it, :class:`SegmentInfo` describes it.

The format is :mod:`.format`'s; a shard's sequence of segments is :mod:`.log`'s.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path

import pyarrow as pa

from ..schema import RECORD_SCHEMA
from .direct import DIRECT_MIN_BYTES, DirectWriter
from .fileio import SYSTEM_IO, SegmentIO, is_disk_full
from .format import (
    CRC_METADATA_KEY,
    EOS_MARKER,
    batch_arrivals,
    batch_counters,
    prepare_for_write,
    segment_file_name,
    stored_schema,
)
from .jsonfile import fsync_directory

__all__ = ["RESERVE_BYTES", "SMALL_APPEND_BYTES", "SegmentInfo", "SegmentWriter", "drop_cached", "release_cache"]

#: Zero bytes a small append writes past its end: later small appends overwrite them in place.
RESERVE_BYTES = 256 * 1024
#: Appends up to this size extend the reserve (larger ones pay for the file's growth anyway).
SMALL_APPEND_BYTES = 16 * 1024
_PAGE = 4096
_zeros: memoryview | None = None


def _zero_bytes(n: int) -> memoryview:
    """``n`` zero bytes (a view of one shared, read-only buffer)."""
    global _zeros
    if _zeros is None:
        _zeros = memoryview(bytes(RESERVE_BYTES + _PAGE))
    return _zeros[:n]


def drop_cached(fd: int, offset: int, length: int) -> bool:
    """Advise the kernel to drop ``length`` clean bytes of ``fd`` from ``offset`` from the page cache."""
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):  # advice only (AttributeError: no posix_fadvise here)
        return False
    return True


def release_cache(sealed: list, writer: SegmentWriter | None, held_from: int) -> int:
    """Drop from the page cache the synced bytes whose records a ring still holds (from ``held_from``).

    Parameters
    ----------
    sealed : list of tuple
        :attr:`SegmentWriter.unreleased` of segments sealed (so synced) since the last call.
    writer : SegmentWriter or None
        The active segment (:meth:`SegmentWriter.release_synced`).
    held_from : int
        The oldest counter the ring holds: bytes of older records stay cached (no other copy).

    Returns
    -------
    int
        Bytes dropped.
    """
    dropped = 0
    for path, offset, counter, size in sealed:
        if held_from > counter or size <= offset:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            if drop_cached(fd, offset, size - offset):
                dropped += size - offset
        finally:
            os.close(fd)
    if writer is not None:
        dropped += writer.release_synced(held_from)
    return dropped


@dataclasses.dataclass(frozen=True)
class SegmentInfo:
    """A snapshot of one segment.

    Attributes
    ----------
    path : pathlib.Path
    base_counter : int
        First counter in the segment (also its name).
    last_counter : int
        Last counter in the segment.
    size_bytes : int
        Bytes of complete messages (plus the end-of-stream marker if sealed).
    sealed : bool
        False only for the segment currently open for appends.
    last_arrival_ms : int or None
        Arrival time of its last record (what retention compares).
    """

    path: Path
    base_counter: int
    last_counter: int
    size_bytes: int
    sealed: bool
    last_arrival_ms: int | None = None


class _Messages:
    """The file-like sink an IPC stream writer writes into: it collects one batch's messages.

    The schema message, which an IPC writer emits before its first batch, is
    dropped (the segment file starts with it already), so a fresh writer can
    continue a segment: it re-emits the dictionary, which IPC streams allow.
    """

    def __init__(self, skip: int):
        self._skip = skip
        self.chunks: list = []
        self.closed = False

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        if self._skip:
            if n <= self._skip:
                self._skip -= n
                return n
            data, self._skip = memoryview(data).cast("B")[self._skip :], 0
        self.chunks.append(data)
        return n

    def take(self) -> list:
        chunks, self.chunks = self.chunks, []
        return chunks

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class SegmentWriter:
    """Appends record batches to one new segment file.

    Format: an Arrow IPC stream of :func:`stored_schema` batches, each with a
    CRC-32 in its custom metadata (see :mod:`.format`).  The file is
    created exclusively (never overwritten) and the directory fsync-ed.

    Each append serialises its batch in memory and writes it with one
    positioned write (through ``io``): the bytes are then with the OS, so
    readers see them and they survive the process.  A write that fails (a
    full disk) is rolled back: the file is cut back to the end of the last
    complete batch and the writer carries on from there, so a failed append
    leaves no trace and the next one may simply try again.

    *Zero reserve.*  A small append (up to :data:`SMALL_APPEND_BYTES`) that
    reaches past the file's end also writes :data:`RESERVE_BYTES` of zeros
    after itself, and the small appends that follow overwrite them in place.
    An ``fsync`` after an overwrite need not commit a new file size to the
    journal: on ext4 that makes a one-record ``sync`` put's ``fsync`` about a
    third cheaper.  Zeros read as the end of an IPC stream, so readers stop
    there; recovery treats an all-zero tail as the clean end of an unsealed
    segment, and sealing cuts the reserve off before the end-of-stream marker.
    Appends of :data:`~.direct.DIRECT_MIN_BYTES` or more go around the page
    cache (:class:`~.direct.DirectWriter`: whole blocks, the last one padded
    with zeros in the same way).

    Thread safety: none; the owning :class:`SegmentLog` serialises calls.
    Batches must already be in the stored schema with increasing counters; the
    writer does not check (the log does).

    Parameters
    ----------
    directory : path-like
        The shard's segment directory (must exist).
    base_counter : int
        Counter of the first record that will be appended; names the file.
    schema : pyarrow.Schema, optional
        The record schema; the ``counter`` column is added if missing.
    io : SegmentIO, optional
        What performs the writes, syncs and truncations (default: the system calls).
    cipher : BatchCipher, optional
        What seals the batches appended with a ``key_id`` (:mod:`.crypto`).
    """

    def __init__(
        self,
        directory,
        base_counter: int,
        schema: pa.Schema = RECORD_SCHEMA,
        io: SegmentIO = SYSTEM_IO,
        cipher=None,
    ):
        self.directory = Path(directory)
        self.base_counter = int(base_counter)
        self.schema = stored_schema(schema)
        self.path = self.directory / segment_file_name(self.base_counter)
        self.last_counter: int | None = None
        self.first_arrival_ms: int | None = None
        self.last_arrival_ms: int | None = None
        self.num_batches = 0
        self._io = io
        self._cipher = cipher
        header = self.schema.serialize()
        self._header_bytes = header.size
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            io.write(fd, [header], 0)
            fsync_directory(self.directory)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self._size = header.size  # end of the last complete message
        self._zeroed = header.size  # end of the file: zeros from _size up to here (the reserve)
        self._direct: DirectWriter | None | bool = None  # large appends' writer (False: none here)
        self._new_ipc_writer()
        self._closed = False
        self._broken = False
        self._synced = self._mark()
        self._released = (self._size, self.base_counter)  # (offset, counter) up to which the cache was dropped

    def _new_ipc_writer(self) -> None:
        self._sink = _Messages(self._header_bytes)
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self._dictionary_written = False  # the first batch from this writer carries the shard_id dictionary

    @property
    def takes_messages(self) -> bool:
        """Whether :meth:`append_message` may be used: the stream's dictionary is written and the file usable."""
        return self._dictionary_written and not self._closed and not self._broken

    def _mark(self) -> tuple:
        return (self._size, self.last_counter, self.first_arrival_ms, self.last_arrival_ms, self.num_batches)

    def _restore(self, mark: tuple) -> None:
        self._size, self.last_counter, self.first_arrival_ms, self.last_arrival_ms, self.num_batches = mark

    @property
    def size(self) -> int:
        """Bytes of complete messages written (plus the end-of-stream marker once sealed)."""
        return self._size

    def append(self, batch: pa.RecordBatch, last_counter: int | None = None, key_id: str | None = None) -> None:
        """Append one batch (stored schema, counters already checked by the caller).

        Parameters
        ----------
        batch : pyarrow.RecordBatch
        last_counter : int, optional
            The batch's last counter, if the caller already has it.
        key_id : str, optional
            Seal (encrypt) the batch with this key of the cipher's key store.

        Raises
        ------
        KMSError
            The key cannot be used (nothing was written).
        OSError
            The write failed (a full disk: ``errno.ENOSPC``); the file is as
            it was before the call.
        """
        if self._closed:
            raise ValueError("segment writer is closed")
        self._check_usable()
        header = None
        if key_id is not None:
            if self._cipher is None:
                raise ValueError("this segment writer has no cipher to seal batches with")
            batch, header = self._cipher.seal(batch, key_id)
        batch, crc = prepare_for_write(batch)
        metadata = {CRC_METADATA_KEY: str(crc)}
        if header is not None:
            metadata.update(header)
        try:
            self._writer.write_batch(batch, custom_metadata=metadata)
            written = self._write(self._sink.take())
        except BaseException:
            self._cut(self._size)
            raise
        self._dictionary_written = True
        arrivals = batch_arrivals(batch)
        last = int(batch_counters(batch)[-1]) if last_counter is None else last_counter
        self._appended(written, last, int(arrivals[0]), int(arrivals[-1]))

    def append_message(self, parts: list, last_counter: int, first_arrival_ms: int, last_arrival_ms: int) -> None:
        """Append one record-batch message already encoded (``_native.encode_ipc_run``), unsealed.

        The message must be in the stored schema with its CRC-32 in its custom
        metadata, as :meth:`append` writes one; only when :attr:`takes_messages`
        (the dictionary it refers to is in the file).

        Parameters
        ----------
        parts : list of bytes-like
            The message's bytes, in order (each part a multiple of 8 bytes long).
        last_counter : int
            Its last record's counter.
        first_arrival_ms, last_arrival_ms : int
            Its first and last records' arrival times.

        Raises
        ------
        OSError
            The write failed; the file is as it was before the call.
        """
        if not self.takes_messages:
            raise ValueError("segment writer cannot take encoded messages now")
        try:
            written = self._write(parts)
        except BaseException:
            self._cut(self._size)
            raise
        self._appended(written, last_counter, first_arrival_ms, last_arrival_ms)

    def _appended(self, written: int, last_counter: int, first_arrival_ms: int, last_arrival_ms: int) -> None:
        """Account for a batch of ``written`` bytes now in the file."""
        self._size += written
        if self.first_arrival_ms is None:
            self.first_arrival_ms = first_arrival_ms
        self.last_counter = last_counter
        self.last_arrival_ms = last_arrival_ms
        self.num_batches += 1

    def _write(self, chunks: list) -> int:
        """Write one batch's messages at the end of what was appended; the bytes written (without zeros)."""
        n = sum(memoryview(c).nbytes for c in chunks)
        end = self._size + n
        if n >= DIRECT_MIN_BYTES and self._direct is not False:
            if self._direct is None:
                self._direct = DirectWriter.open(self.path, self._io) or False
            if self._direct:  # around the page cache (see .direct)
                self._zeroed = max(self._zeroed, self._direct.write(chunks, self._size))
                return n
        if end <= self._zeroed or n > SMALL_APPEND_BYTES:
            self._io.write(self._fd, chunks, self._size)
            self._zeroed = max(self._zeroed, end)
            return n
        reserve_end = (end + RESERVE_BYTES + _PAGE - 1) // _PAGE * _PAGE
        try:
            self._io.write(self._fd, [*chunks, _zero_bytes(reserve_end - end)], self._size)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self._cut(self._size)  # no room for the reserve: the batch alone may still fit
            self._io.write(self._fd, chunks, self._size)
            reserve_end = end
        self._zeroed = reserve_end
        return n

    def _cut(self, size: int) -> None:
        """Truncate the file to ``size`` (a batch boundary) and start a fresh IPC writer there.

        If even that fails, the writer is unusable (:meth:`_check_usable`):
        what follows ``size`` in the file is unknown, and only a recovery
        (reopening) may cut it.
        """
        try:
            self._io.truncate(self._fd, size)
        except BaseException:
            self._broken = True
            raise
        self._zeroed = size
        self._new_ipc_writer()

    def _check_usable(self) -> None:
        if self._broken:
            raise OSError(errno.EIO, f"{self.path} could not be cut back after a failed write; reopen to recover")

    def flush(self) -> None:
        """Nothing to do: every append is handed to the OS before it returns (kept for callers)."""

    def sync(self) -> None:
        """``fsync``: everything appended so far survives a crash."""
        mark = self._mark()
        self._io.fsync(self._fd)
        self._synced = mark

    def release_synced(self, held_from: int, min_bytes: int = 1 << 20) -> int:
        """Drop synced bytes from the page cache when the caller's ring still holds their records.

        Clean pages of records that are also in memory (the shard's ring, from
        counter ``held_from`` on) are a second copy: dropping them keeps the
        page cache from growing with everything ever written, so writes reuse
        recently freed memory.  Nothing is dropped while less than
        ``min_bytes`` accumulated, nor if the ring no longer holds all of it.

        Parameters
        ----------
        held_from : int
            The oldest counter the ring holds.
        min_bytes : int
            Skip smaller ranges (one call per that many bytes at most).

        Returns
        -------
        int
            Bytes dropped.
        """
        offset, counter = self._released
        size, last = self._synced[0], self._synced[1]
        if self._closed or last is None or size - offset < min_bytes or held_from > counter:
            return 0
        if not drop_cached(self._fd, offset, size - offset):
            return 0
        self._released = (size, last + 1)
        return size - offset

    @property
    def unreleased(self) -> tuple[Path, int, int, int]:
        """(path, offset, counter, size): where the bytes :meth:`release_synced` has not dropped begin."""
        return (self.path, *self._released, self.size)

    @property
    def synced_batches(self) -> int:
        """Batches known to be ``fsync``-ed."""
        return self._synced[4]

    def discard_unsynced(self) -> None:
        """Cut off every batch appended since the last :meth:`sync` (their fsync failed or never ran)."""
        if self._closed:
            raise ValueError("segment writer is closed")
        self._check_usable()
        self._cut(self._synced[0])
        self._restore(self._synced)

    def close(self) -> None:
        """Write the end-of-stream marker, sync and close; the segment is then sealed.

        Raises
        ------
        OSError
            The marker could not be written or synced (a full disk): the file
            is cut back and the writer stays open (unsealed); try again later.
        """
        if self._closed:
            return
        if self._broken:  # leave the file for recovery to cut, as after a crash
            self.abandon()
            self._check_usable()
        try:
            if self._zeroed > self._size:  # the reserve goes first: a sealed segment ends with the marker
                self._io.truncate(self._fd, self._size)
                self._zeroed = self._size
            self._io.write(self._fd, [EOS_MARKER], self._size)
            self._io.fsync(self._fd)
        except BaseException:
            self._io.truncate(self._fd, self._size)
            raise
        self._size += len(EOS_MARKER)
        self._closed = True
        self._close_files()

    def _close_files(self) -> None:
        if self._direct:
            self._direct.close()
        self._direct = False
        os.close(self._fd)

    def discard(self) -> None:
        """Close and delete the file (it holds no batch worth keeping)."""
        self.abandon()
        self.path.unlink(missing_ok=True)
        fsync_directory(self.directory)

    def abandon(self) -> None:
        """Close the file descriptor without the end-of-stream marker (a simulated crash)."""
        if not self._closed:
            self._closed = True
            self._close_files()

    def info(self) -> SegmentInfo:
        """A :class:`SegmentInfo` snapshot of this segment."""
        return SegmentInfo(
            self.path, self.base_counter, self.last_counter, self.size, self._closed, self.last_arrival_ms
        )
