"""Recovery of a shard's segment directory: verifying segments and cutting torn tails.

This module's one job is opening a segment directory after a crash (or a
clean close): find the segment files, verify each against :mod:`.format`
(framing, counter order, end-of-stream marker, CRC-32), cut a torn tail off
the newest segment, remove newest segments with no complete batch, and
refuse (:class:`~.format.CorruptSegmentError`) damage that is not a torn
tail.  :class:`~.log.SegmentLog` runs it when it opens.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from .fileio import SegmentIO, is_disk_full
from .format import (
    CRC_METADATA_KEY,
    EOS_MARKER,
    SEGMENT_NAME_RE,
    CorruptSegmentError,
    batch_arrivals,
    batch_counters,
    batch_crc32,
)
from .jsonfile import fsync_directory
from .segment import SegmentInfo

__all__ = ["RecoveredSegments", "RecoveryReport", "recover_segments"]


@dataclasses.dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`SegmentLog.open` found and repaired.

    Attributes
    ----------
    segments : int
        Segments kept.
    truncated_path : pathlib.Path or None
        The newest segment, if its torn tail was cut off.
    truncated_bytes : int
        Bytes removed from it.
    removed_paths : tuple of pathlib.Path
        Newest segments removed because no complete batch survived.
    reason : str or None
        Why the tail was considered torn.
    """

    segments: int = 0
    truncated_path: Path | None = None
    truncated_bytes: int = 0
    removed_paths: tuple = ()
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class RecoveredSegments:
    """What :func:`recover_segments` leaves a segment log to start from.

    Attributes
    ----------
    segments : list of SegmentInfo
        The segments kept, oldest first.
    last_counter : int or None
        Counter of the last record kept (None if no segment holds one).
    tail_limit : tuple of (pathlib.Path, int) or None
        Read-only: the newest segment and the end of its last complete batch,
        beyond which reads must not go.
    unsealed : pathlib.Path or None
        The newest segment, if it was cut but there was no room for its
        end-of-stream marker (it must be sealed before a newer one is created).
    report : RecoveryReport
        What was found and repaired.
    """

    segments: list
    last_counter: int | None
    tail_limit: tuple | None
    unsealed: Path | None
    report: RecoveryReport


def recover_segments(
    directory,
    schema: pa.Schema,
    *,
    readonly: bool,
    verify_sealed: bool,
    expect_sealed: bool,
    io: SegmentIO,
    cipher=None,
) -> RecoveredSegments:
    """Verify the segments in ``directory`` and repair a torn tail (see :meth:`SegmentLog.open`).

    Parameters
    ----------
    directory : path-like
        The shard's segment directory (must exist).
    schema : pyarrow.Schema
        The stored schema every segment must have.
    readonly : bool
        Change nothing: a torn or growing newest segment is only limited.
    verify_sealed : bool
        Check the CRC-32 of every batch of sealed segments too.
    expect_sealed : bool
        The log was closed cleanly: damage in its newest segment is corruption.
    io : SegmentIO
        What truncates, writes and syncs the files.
    cipher : BatchCipher, optional
        Checks the AES-GCM tag of encrypted batches wherever CRC-32s are
        checked (when their key is available); a tag that does not match is
        treated as a CRC-32 mismatch.

    Returns
    -------
    RecoveredSegments

    Raises
    ------
    CorruptSegmentError
        Damage recovery may not repair.
    """
    recovery = _Recovery(Path(directory), schema, readonly, verify_sealed, expect_sealed, io, cipher)
    return recovery.run()


@dataclasses.dataclass
class _Scan:
    """What verifying one segment found."""

    last: int | None = None  # last counter of the last good batch
    last_arrival_ms: int | None = None
    good_end: int = 0  # byte offset just past the last good batch
    eos: bool = False  # ends with a well-placed end-of-stream marker
    zero_tail: bool = False  # followed by nothing but zeros (an unsealed segment's reserve)
    data_end: int = 0  # offset past the last non-zero byte (zeros after it are a reserve)
    problem: str | None = None
    bad_offset: int = 0


def _data_end(mm, start: int, end: int, chunk: int = 1 << 20) -> int:
    """Offset just past the last non-zero byte of ``start:end`` in the memory-mapped ``mm`` (``start`` if none).

    What follows it is zeros: an unsealed segment's reserve (:class:`~.segment.SegmentWriter`), not damage.
    """
    while end > start:
        offset = max(start, end - chunk)
        mm.seek(offset)
        nonzero = np.flatnonzero(np.frombuffer(mm.read_buffer(end - offset), dtype=np.uint8))
        if nonzero.size:
            return offset + int(nonzero[-1]) + 1
        end = offset
    return start


class _Recovery:
    """One recovery run over one directory (its state is returned as :class:`RecoveredSegments`)."""

    def __init__(
        self,
        directory: Path,
        schema: pa.Schema,
        readonly: bool,
        verify_sealed: bool,
        expect_sealed: bool,
        io,
        cipher=None,
    ):
        self.directory = directory
        self.schema = schema
        self.readonly = readonly
        self.verify_sealed = verify_sealed
        self.expect_sealed = expect_sealed
        self._io = io
        self._cipher = cipher
        self._unsealed: Path | None = None
        self._sealed: list[SegmentInfo] = []
        self._last_counter: int | None = None
        self._tail_limit: tuple[Path, int] | None = None

    def _segment_paths(self) -> list[tuple[int, Path]]:
        found = []
        for entry in self.directory.iterdir():
            m = SEGMENT_NAME_RE.fullmatch(entry.name)
            if m:
                found.append((int(m.group(1)), entry))
        found.sort()
        return found

    def _scan(self, path: Path, base: int, tail: bool) -> _Scan:
        """Verify one segment (every batch: framing, counter order, and CRC-32 unless skipped)."""
        check_crc = tail or self.verify_sealed
        out = self._scan_once(path, base, check_crc)
        if out.problem is not None and not check_crc:
            # Without CRCs a damaged counter shows up one batch late: look again,
            # with them, to name the message that is actually bad.
            out = self._scan_once(path, base, True)
        if out.problem is None and not tail and not out.eos:
            out.problem, out.bad_offset = "missing end-of-stream marker in a sealed segment", out.good_end
        if out.problem is not None and not tail:
            raise CorruptSegmentError(path, out.bad_offset, out.problem)
        if out.last is None and out.problem is None and not tail:
            raise CorruptSegmentError(path, out.good_end, "sealed segment holds no batches")
        return out

    def _scan_once(self, path: Path, base: int, check_crc: bool) -> _Scan:
        size = path.stat().st_size
        out = _Scan()
        mm = pa.memory_map(str(path))
        try:
            try:
                reader = pa.ipc.open_stream(mm)
            except (pa.ArrowException, OSError, ValueError) as e:
                out.problem = f"unreadable schema message: {e}"
            else:
                if not reader.schema.equals(self.schema):
                    raise CorruptSegmentError(path, 0, f"unexpected schema {reader.schema}")
                self._scan_batches(reader, mm, size, base, out, check_crc)
        finally:
            mm.close()
        return out

    def _scan_batches(self, reader, mm, size: int, base: int, out: _Scan, check_crc: bool = True) -> None:
        out.good_end = mm.tell()
        while True:
            start = out.good_end
            try:
                batch, metadata = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                stopped = mm.tell()
                out.data_end = _data_end(mm, out.good_end, size)
                if size > out.good_end == out.data_end:
                    out.zero_tail = True
                    return
                out.eos = stopped == size and size - out.good_end == len(EOS_MARKER)
                if stopped != size or size - out.good_end not in (0, len(EOS_MARKER)):
                    out.problem, out.bad_offset = "unexpected bytes after end of stream", out.good_end
                return
            except (pa.ArrowException, OSError, ValueError) as e:
                out.data_end = _data_end(mm, start, size)
                if out.data_end == start:
                    out.zero_tail = True
                    return
                out.problem, out.bad_offset = f"unreadable message: {e}", start
                return
            out.problem = self._check_batch(batch, metadata, base if out.last is None else out.last + 1, check_crc)
            if out.problem is not None:
                out.bad_offset = start
                out.data_end = _data_end(mm, start, size)
                return
            out.last = int(batch_counters(batch)[-1])
            out.last_arrival_ms = int(batch_arrivals(batch)[-1])
            out.good_end = mm.tell()

    def _check_batch(self, batch, metadata, min_counter: int, check_crc: bool = True) -> str | None:
        if batch.num_rows == 0:
            return "empty record batch"
        try:
            batch.validate()
        except pa.ArrowException as e:
            return f"invalid record batch: {e}"
        expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
        if expected is None:
            return "record batch without CRC-32"
        if check_crc:
            actual = batch_crc32(batch)
            if expected != str(actual).encode():
                return f"CRC-32 mismatch (stored {expected.decode(errors='replace')}, computed {actual})"
            if self._cipher is not None:
                problem = self._cipher.problem(batch, metadata)
                if problem is not None:
                    return problem
        counters = batch_counters(batch)
        if int(counters[0]) < min_counter:
            return f"counter {int(counters[0])} not above the previous one (expected >= {min_counter})"
        if counters.size > 1 and not bool(np.all(counters[1:] > counters[:-1])):
            return "counters not strictly increasing"
        return None

    def run(self) -> RecoveredSegments:
        """Recover the directory once; what to start from (see :func:`recover_segments`)."""
        paths = self._segment_paths()
        removed: list[Path] = []
        truncated_path, truncated_bytes, reason = None, 0, None
        # Newest segments without a single complete batch are removed (a crash
        # between creating the file and the first append, or a torn first batch);
        # read-only, they are skipped.
        tail_scan = None
        while paths:
            base, path = paths[-1]
            tail_scan = self._scan(path, base, tail=True)
            if not self.readonly and (tail_scan.problem is not None or not tail_scan.eos):
                self._refuse_if_sealed(path, tail_scan)
            if tail_scan.last is not None:
                size = path.stat().st_size
                if self.readonly:
                    # Leave the file alone (a live writer may be appending) and
                    # read only up to its last complete batch.
                    self._tail_limit = (path, tail_scan.good_end)
                elif tail_scan.problem is not None or not tail_scan.eos:
                    # Cut the torn tail and seal the segment with an end-of-stream marker.
                    self._cut_tail(path, tail_scan.good_end)
                    if size != tail_scan.good_end and not tail_scan.zero_tail:
                        # the torn bytes, not the zeros of a reserve after them
                        torn_end = max(tail_scan.data_end, tail_scan.good_end + 1)
                        truncated_path, truncated_bytes = path, torn_end - tail_scan.good_end
                        reason = tail_scan.problem
                    fsync_directory(self.directory)
                break
            if not self.readonly:
                path.unlink()
                fsync_directory(self.directory)
                removed.append(path)
            reason = tail_scan.problem
            paths.pop()
        prev_last = None
        for i, (base, path) in enumerate(paths):
            if prev_last is not None and base <= prev_last:
                raise CorruptSegmentError(
                    path, 0, f"segment base {base} overlaps the previous segment (last {prev_last})"
                )
            scan = tail_scan if i == len(paths) - 1 else self._scan(path, base, tail=False)
            size = scan.good_end if self.readonly and i == len(paths) - 1 else path.stat().st_size
            sealed = path != self._unsealed
            self._sealed.append(SegmentInfo(path, base, scan.last, size, sealed, scan.last_arrival_ms))
            prev_last = scan.last
        self._last_counter = prev_last
        report = RecoveryReport(len(paths), truncated_path, truncated_bytes, tuple(removed), reason)
        return RecoveredSegments(self._sealed, self._last_counter, self._tail_limit, self._unsealed, report)

    def _cut_tail(self, path: Path, good_end: int) -> None:
        """Cut the newest segment at ``good_end`` and seal it; without room for the marker, seal it later."""
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._io.truncate(fd, good_end)
            try:
                self._io.write(fd, [EOS_MARKER], good_end)
                self._io.fsync(fd)
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                self._io.truncate(fd, good_end)
                self._io.fsync(fd)
                self._unsealed = path
        finally:
            os.close(fd)

    def _refuse_if_sealed(self, path: Path, scan: _Scan) -> None:
        """Raise if the damaged newest segment had been sealed: then it is corruption, not a torn tail.

        It was sealed if the log was closed cleanly (``expect_sealed``), or if
        its last bytes are the end-of-stream marker and lie beyond the bad
        message (a crash cuts a file short; it does not write a marker after
        the cut).  Cutting it would silently drop records that were synced.
        """
        size = path.stat().st_size
        if not self.expect_sealed:
            if scan.problem is None or size < scan.bad_offset + 2 * len(EOS_MARKER):
                return
            with open(path, "rb") as f:
                f.seek(size - len(EOS_MARKER))
                if f.read() != EOS_MARKER:
                    return
        problem = scan.problem or "missing end-of-stream marker"
        raise CorruptSegmentError(path, scan.bad_offset if scan.problem else scan.good_end, problem)
