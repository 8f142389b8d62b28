"""A durable queue's files: its settings, a snapshot of its delivery state, and a journal of changes since.

::

    <data_dir>/queues/<queue id>/
        queue.json                 the queue's settings (:func:`.jsonfile.write_json_atomic`)
        state.<gen:016x>.npz       the delivery state as of journal <gen>'s start (bytes from the queue)
        journal.<gen:016x>         the changes since, in order

A journal entry is ``length (u32, little-endian) | CRC-32 of the payload (u32)
| payload``; the payload is the queue's to define
(:class:`shardstream.queue_state.Change`).  An entry is appended with one
``write`` while the queue holds its lock, so entries are in the order the
changes were made, and a process killed at any moment leaves at most one torn
entry at the end: :meth:`QueueFiles.load` stops at the first entry that is
short or fails its CRC and cuts the file there.

Snapshots keep the journal short: :meth:`QueueFiles.snapshot` opens journal
``gen + 1``, writes ``state.<gen + 1>.npz`` atomically, then removes the older
snapshot and journals.  A crash between those steps leaves both generations,
and loading replays from the newest snapshot that reads back: every journal
at or after its generation, in order.

``fsync``: :meth:`QueueFiles.sync` makes every entry appended so far durable,
and concurrent callers share one ``fsync`` (group commit).  The queue decides
when to call it (see :mod:`shardstream.queue`): with the stream's
``"sync"`` policy before an acknowledgement is answered, with ``"interval"``
from the engine's maintenance thread, never with ``"none"`` (a killed process
loses nothing written; a power failure may).
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import zlib
from pathlib import Path

from .jsonfile import fsync_directory, read_json, remove_stale_temp_files, write_bytes_atomic, write_json_atomic

__all__ = ["QUEUE_FILE", "QueueFiles", "queues_dir"]

QUEUE_FILE = "queue.json"
_FRAME = struct.Struct("<II")
#: Write a snapshot once the journal holds this many bytes and 4x the last snapshot.
SNAPSHOT_AFTER_BYTES = 8 << 20


def queues_dir(data_dir) -> Path:
    """Where ``data_dir`` keeps durable queues: ``<data_dir>/queues``."""
    return Path(data_dir) / "queues"


def _gen_of(path: Path) -> int:
    return int(path.name.split(".")[1], 16)


def _journals(path: Path) -> list[Path]:
    return sorted(path.glob("journal.*"), key=_gen_of)


def _snapshots(path: Path) -> list[Path]:
    return sorted(path.glob("state.*.npz"), key=_gen_of)


class QueueFiles:
    """The files of one durable queue (see the module's documentation); owns the open journal and its lock.

    Use :meth:`create` for a new queue, :meth:`load` for one found on disk;
    then :meth:`start` with the queue's state.

    Parameters
    ----------
    path : pathlib.Path
        The queue's directory.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd = -1
        self._gen = 0
        self._lock = threading.Lock()  # guards the journal's fd, generation and the positions
        self._sync_lock = threading.Lock()  # one fsync at a time; appends go on meanwhile
        self._written = 0  # bytes appended to the current journal
        self._synced = 0
        self._snapshot_bytes = 0
        self.closed = False

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, queue_id: str, doc: dict) -> QueueFiles:
        """A new queue's directory under ``root`` with its ``queue.json``; :meth:`start` it next.

        Parameters
        ----------
        root : pathlib.Path
            The data directory's ``queues`` folder (made if missing).
        queue_id : str
        doc : dict
            The queue's settings.
        """
        root.mkdir(exist_ok=True)
        path = root / queue_id
        path.mkdir()
        write_json_atomic(path / QUEUE_FILE, doc)
        fsync_directory(root)
        return cls(path)

    @staticmethod
    def load(path: Path) -> tuple[dict, bytes | None, list[bytes]]:
        """``(settings, snapshot bytes or None, journal payloads in order)`` of the queue in ``path``.

        Torn entries at a journal's end are cut off (a journal after a torn
        one is not read: it cannot hold later changes that survived).

        Parameters
        ----------
        path : pathlib.Path
        """
        remove_stale_temp_files(path)
        doc = read_json(path / QUEUE_FILE)
        snapshot, start = None, 0
        for snap in reversed(_snapshots(path)):
            try:
                snapshot, start = snap.read_bytes(), _gen_of(snap)
                break
            except OSError:
                continue
        payloads: list[bytes] = []
        for journal in _journals(path):
            if _gen_of(journal) < start:
                continue
            raw = journal.read_bytes()
            at = 0
            while at + _FRAME.size <= len(raw):
                size, crc = _FRAME.unpack_from(raw, at)
                body = raw[at + _FRAME.size : at + _FRAME.size + size]
                if len(body) != size or zlib.crc32(body) != crc:
                    break
                payloads.append(body)
                at += _FRAME.size + size
            if at != len(raw):  # a torn tail: what follows it was never acknowledged
                with open(journal, "r+b") as f:
                    f.truncate(at)
                    os.fsync(f.fileno())
                break
        return doc, snapshot, payloads

    def start(self, snapshot: bytes) -> None:
        """Begin appending: start a new journal whose starting state is ``snapshot`` (the state as created or replayed).

        Parameters
        ----------
        snapshot : bytes
        """
        journals, snapshots = _journals(self.path), _snapshots(self.path)
        last = max([_gen_of(p) for p in journals + snapshots], default=-1)
        self._open_journal(last + 1)
        self._write_snapshot(snapshot)

    def _open_journal(self, gen: int) -> None:
        fd = os.open(self.path / f"journal.{gen:016x}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        old, self._fd, self._gen = self._fd, fd, gen
        self._written = self._synced = 0
        if old >= 0:
            os.close(old)

    def _write_snapshot(self, snapshot: bytes) -> None:
        write_bytes_atomic(self.path / f"state.{self._gen:016x}.npz", snapshot)
        for old in _snapshots(self.path) + _journals(self.path):
            if _gen_of(old) < self._gen:
                old.unlink(missing_ok=True)
        self._snapshot_bytes = len(snapshot)

    # -- writing -------------------------------------------------------------------------

    def save_doc(self, doc: dict) -> None:
        """Replace ``queue.json`` (atomically).

        Parameters
        ----------
        doc : dict
        """
        if not self.closed:
            write_json_atomic(self.path / QUEUE_FILE, doc)

    def append(self, payloads: list) -> int:
        """Append one entry per payload with one ``write``; returns the journal position after them.

        The caller holds its own lock, so entries keep the order of its changes.

        Parameters
        ----------
        payloads : list of bytes
        """
        frames = b"".join(_FRAME.pack(len(p), zlib.crc32(p)) + p for p in payloads)
        with self._lock:
            if self.closed:
                return self._written
            view = memoryview(frames)
            while view:
                view = view[os.write(self._fd, view) :]
            self._written += len(frames)
            return self._written

    @property
    def snapshot_due(self) -> bool:
        """The journal is long enough that a snapshot would shorten recovery."""
        return self._written > max(SNAPSHOT_AFTER_BYTES, 4 * self._snapshot_bytes)

    def snapshot(self, snapshot: bytes) -> None:
        """Start a new journal generation whose starting state is ``snapshot``; drop the older files.

        Call it while holding the lock that orders :meth:`append`.

        Parameters
        ----------
        snapshot : bytes
        """
        with self._sync_lock, self._lock:
            if self.closed:
                return
            self._open_journal(self._gen + 1)
            self._write_snapshot(snapshot)

    def sync(self, upto: int | None = None) -> None:
        """``fsync`` the journal so that everything appended (up to ``upto``) is durable.

        Parameters
        ----------
        upto : int, optional
            A position :meth:`append` returned; a caller whose entries were
            synced by someone else returns at once.
        """
        with self._sync_lock:
            with self._lock:
                if self.closed or self._synced >= (self._written if upto is None else upto):
                    return
                target, fd = self._written, self._fd
            os.fsync(fd)  # the fd stays open: closing and rotating take the sync lock
            with self._lock:
                self._synced = max(self._synced, target)

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Sync and close the journal (idempotent)."""
        with self._sync_lock, self._lock:
            if self.closed:
                return
            self.closed = True
            if self._fd >= 0:
                try:
                    os.fsync(self._fd)
                finally:
                    os.close(self._fd)
                    self._fd = -1

    def remove(self, trash: Path) -> None:
        """Close and delete the queue's files (moved to ``trash`` first: one atomic step).

        Parameters
        ----------
        trash : pathlib.Path
            The data directory's trash folder.
        """
        with self._sync_lock, self._lock:
            self.closed = True
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        trash.mkdir(exist_ok=True)
        gone = trash / f"queue-{self.path.name}"
        os.replace(self.path, gone)
        fsync_directory(self.path.parent)
        shutil.rmtree(gone, ignore_errors=True)
