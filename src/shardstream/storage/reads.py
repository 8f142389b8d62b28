"""Reading a shard's segment log: whole ranges as a stream, pages by counter, and the batch index.

:class:`SegmentReads` is a part of :class:`~.log.SegmentLog` (``log.reads``;
the log publishes its calls: ``log.read``, ``log.read_range``, ...).  It
owns the cache of segment indexes; the log owns the segment list and maps
the files for it under its lock (:meth:`~.log.SegmentLog.map_segments`).
Readers memory-map the segments, so they copy nothing until the caller
touches the data, and keep working during later appends and retention
deletes.  Encrypted batches are opened (decrypted) as they are read, by the
log's cipher (:mod:`.crypto`), after their CRC-32 is checked.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..sequence import LEGACY_END_COUNTER
from .crypto import NONCE_METADATA_KEY, is_sealed
from .format import (
    CRC_METADATA_KEY,
    CorruptSegmentError,
    batch_arrivals,
    batch_counters,
    batch_crc32,
    batch_data_offsets,
)
from .segment import SegmentInfo

__all__ = ["SegmentReads"]

_INDEX_CACHE_SEGMENTS = 16
#: Most bytes of opened (decrypted) batches kept for paged reads: the index keeps sealed batches as
#: stored (zero-copy), and a page opens only the batches it returns.
_OPENED_CACHE_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass
class _SegmentIndex:
    """A segment's batches, zero-copy over its memory map (kept alive by the batches)."""

    size: int
    batches: list
    first: np.ndarray  # first counter of each batch
    sealed: dict  # batch number -> (custom metadata, byte offset) of each encrypted batch


class SegmentReads:
    """The reads of one segment log.

    Parameters
    ----------
    log : SegmentLog
        The log read.
    verify : bool
        Check each batch's CRC-32 when reading it.
    """

    def __init__(self, log, *, verify: bool):
        self.log = log
        self.verify = verify
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[Path, _SegmentIndex] = collections.OrderedDict()
        self._opened: collections.OrderedDict[tuple, pa.RecordBatch] = collections.OrderedDict()
        self._opened_bytes = 0

    def forget(self, path: Path) -> None:
        """Drop the cached index of the segment at ``path`` (it changed or was deleted)."""
        with self._lock:
            self._cache.pop(path, None)
            for key in [key for key in self._opened if key[0] == path]:
                self._opened_bytes -= self._opened.pop(key).nbytes

    def forget_all(self) -> None:
        """Drop every cached index (the log is closing)."""
        with self._lock:
            self._cache.clear()
            self._opened.clear()
            self._opened_bytes = 0

    def read(self, start_counter: int, end_counter: int | None = None) -> pa.RecordBatchReader:
        """The records with ``start_counter <= counter < end_counter``, in counter order.

        Parameters
        ----------
        start_counter : int
            First counter wanted (inclusive).
        end_counter : int, optional
            Stop before this counter (exclusive); default: read to the end as
            of this call.

        Returns
        -------
        pyarrow.RecordBatchReader
            Batches in the stored schema (record columns plus ``counter``),
            zero-copy slices of memory-mapped segments.  Records appended
            after this call are not included.

        Raises
        ------
        CorruptSegmentError
            While iterating, if a batch fails its CRC-32 check (with
            ``verify_reads``) or, encrypted, its AES-GCM tag.
        KMSError
            While iterating, if an encrypted batch's key is missing, disabled or not the one it was sealed with.
        """
        end = LEGACY_END_COUNTER + 1 if end_counter is None else int(end_counter)
        start = int(start_counter)
        maps = self.log.map_segments(start, end)
        return pa.RecordBatchReader.from_batches(self.log.schema, self._iter_batches(maps, start, end))

    def _iter_batches(self, maps, start: int, end: int) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._iter_maps(maps, start, end)
        finally:
            for _, mm, _ in maps:
                mm.close()

    def _iter_maps(self, maps, start: int, end: int) -> Iterator[pa.RecordBatch]:
        verify, cipher = self.verify, self.log.cipher
        for path, mm, limit in maps:
            reader = pa.ipc.open_stream(mm)
            while True:
                offset = mm.tell()
                if offset >= limit:
                    break
                try:
                    batch, metadata = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                except pa.ArrowException as e:
                    raise CorruptSegmentError(path, offset, f"unreadable message: {e}") from e
                counters = batch_counters(batch)
                if counters[-1] < start:
                    continue
                if counters[0] >= end:
                    return
                if verify:
                    expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
                    if expected != str(batch_crc32(batch)).encode():
                        raise CorruptSegmentError(path, offset, "CRC-32 mismatch")
                batch = cipher.open(batch, metadata, path, offset)
                lo = int(np.searchsorted(counters, start, "left"))
                hi = int(np.searchsorted(counters, end, "left"))
                if hi > lo:
                    yield batch if (lo == 0 and hi == batch.num_rows) else batch.slice(lo, hi - lo)
                if hi < batch.num_rows:
                    return

    def first_counter_at(self, arrival_ms: int) -> int | None:
        """The first counter whose record arrived at or after ``arrival_ms`` (None if none did)."""
        infos = [i for i in self.log.segments() if i.last_counter is not None]
        for info in infos:
            if info.last_arrival_ms is not None and info.last_arrival_ms >= arrival_ms:
                batches = self.read_range(info.base_counter, 1, min_arrival_ms=arrival_ms)
                return int(batch_counters(batches[0])[0]) if batches else None
        return None

    def oldest_counter(self) -> int | None:
        """Counter of the oldest stored record, or None if the log is empty."""
        for info in self.log.segments():
            if info.last_counter is not None:
                return info.base_counter
        return None

    def read_range(
        self,
        start: int,
        max_rows: int,
        max_data_bytes: int | None = None,
        *,
        min_arrival_ms: int | None = None,
    ) -> list[pa.RecordBatch]:
        """Up to ``max_rows`` records from counter ``start`` on, for paged reads.

        Unlike :meth:`read`, which streams a whole range, this serves one page
        (a GetRecords call) quickly: each sealed segment's batches are indexed
        once (and CRC-checked then) and kept in a small cache, so a page costs
        a binary search and a few zero-copy slices.

        Parameters
        ----------
        start : int
            First counter wanted.
        max_rows : int
            Most records returned.
        max_data_bytes : int, optional
            Stop before the data bytes would pass this (at least one record is
            always returned).
        min_arrival_ms : int, optional
            Skip records that arrived before this (retention).

        Returns
        -------
        list of pyarrow.RecordBatch
            Stored-schema slices in counter order (empty when nothing is stored
            at or after ``start``).
        """
        out: list[pa.RecordBatch] = []
        rows, data_bytes = 0, 0
        for info in self.log.segments_from(start):
            index = self._index(info)
            k = max(int(np.searchsorted(index.first, start, "right")) - 1, 0)
            for j, batch in enumerate(index.batches[k:], k):
                counters = batch_counters(batch)
                lo = int(np.searchsorted(counters, start, "left"))
                if min_arrival_ms is not None:
                    arrivals = batch_arrivals(batch)
                    lo = max(lo, int(np.searchsorted(arrivals, min_arrival_ms, "left")))
                if lo >= batch.num_rows:
                    continue
                hi = min(batch.num_rows, lo + max_rows - rows)
                if max_data_bytes is not None:
                    sizes = batch_data_offsets(batch)
                    budget = max_data_bytes - data_bytes + sizes[lo]
                    fit = int(np.searchsorted(sizes[lo + 1 : hi + 1], budget, "right"))
                    if fit < hi - lo:
                        hi = lo + max(fit, 0 if out else 1)
                        if hi > lo:
                            out.append(self._open(info.path, index, j).slice(lo, hi - lo))
                        return out
                    data_bytes += int(sizes[hi] - sizes[lo])
                batch = self._open(info.path, index, j)
                out.append(batch if lo == 0 and hi == batch.num_rows else batch.slice(lo, hi - lo))
                rows += hi - lo
                if rows >= max_rows:
                    return out
        return out

    def _open(self, path: Path, index: _SegmentIndex, j: int) -> pa.RecordBatch:
        """Batch ``j`` of ``index`` in plaintext: opened (decrypted) once, then kept a while."""
        header = index.sealed.get(j)
        if header is None:
            return index.batches[j]
        metadata, offset = header
        key = (path, offset, metadata.get(NONCE_METADATA_KEY.encode()))  # the nonce: a batch cut and rewritten differs
        with self._lock:
            opened = self._opened.get(key)
            if opened is not None:
                self._opened.move_to_end(key)
                return opened
        opened = self.log.cipher.open(index.batches[j], metadata, path, offset)
        with self._lock:
            if key not in self._opened:
                self._opened[key] = opened
                self._opened_bytes += opened.nbytes
            while self._opened_bytes > _OPENED_CACHE_BYTES and len(self._opened) > 1:
                self._opened_bytes -= self._opened.popitem(last=False)[1].nbytes
        return opened

    def _index(self, info: SegmentInfo) -> _SegmentIndex:
        """The batches of one segment (cached while sealed)."""
        with self._lock:
            cached = self._cache.get(info.path)
            if cached is not None and cached.size == info.size_bytes:
                self._cache.move_to_end(info.path)
                return cached
        mm = pa.memory_map(str(info.path))
        batches, sealed = [], {}
        try:
            reader = pa.ipc.open_stream(mm)
            limit = info.size_bytes
            while mm.tell() < limit:
                offset = mm.tell()
                try:
                    batch, metadata = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                except pa.ArrowException as e:
                    raise CorruptSegmentError(info.path, offset, f"unreadable message: {e}") from e
                if self.verify:
                    expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
                    if expected != str(batch_crc32(batch)).encode():
                        raise CorruptSegmentError(info.path, offset, "CRC-32 mismatch")
                if is_sealed(metadata):
                    sealed[len(batches)] = (metadata, offset)
                batches.append(batch)
        except BaseException:
            mm.close()
            raise
        index = _SegmentIndex(
            info.size_bytes, batches, np.array([int(batch_counters(b)[0]) for b in batches], dtype=np.uint64), sealed
        )
        if info.sealed:
            with self._lock:
                self._cache[info.path] = index
                while len(self._cache) > _INDEX_CACHE_SEGMENTS:
                    self._cache.popitem(last=False)
        return index
