"""Backups of a data directory, live or not: :func:`backup` makes one, :func:`restore` brings one back.

What a backup holds
-------------------
The same tree as the data directory (one engine's, or ``shardstream serve
--data-dir``'s parent of one engine directory per region), plus the manifest
``backup.json`` (:mod:`.backup_manifest`), written last:

* **sealed segments** (every segment of a shard but its newest, as listed when
  the backup reaches that shard) are hard links to the data directory's files
  where the file system allows (sealed segments never change again: they
  are only ever deleted), else copies (another file system);
* each shard's **newest segment** (the one a live engine may be appending
  to) is copied, then cut where recovery says its last complete, CRC-valid
  batch ends (:func:`.recovery.recover_segments`, run read-only on the
  backup's shard directory, decides it), and sealed with the end-of-stream
  marker; a newest segment with no complete batch yet is left out.  Every
  segment of a backup is thus sealed, as after a clean close;
* ``stream.json``, ``queue.json`` and the other metadata documents are
  copied as read once (they are replaced atomically, so a read sees a whole
  version); ``engine.json`` is marked not cleanly closed (``clean: false``),
  so that an engine opening the restored directory recovers as after a crash
  (each shard's numbering skips ahead, past numbers the live engine gave
  records in its ring beyond the cut; numbers it hands out after the backup
  are the source's own, and a restored copy may reuse them);
* each queue's files (settings, snapshot, journals) are copied as listed;
  a journal that is not the newest is complete once a newer one exists (the
  queue switches journals under the lock its appends take), the newest is
  copied up to a moment and may end in a torn entry, which the queue's own
  loading cuts off.  Files replaced while being copied make the queue's copy
  start over;
* ``LOCK``, ``trash/`` and uncommitted temporary files are left out.  Other
  files are copied (SQLite databases, such as a lease table kept beside the
  streams, through SQLite's online backup, so a consistent copy).

The consistent point
--------------------
Every record whose put was **acknowledged durably before the backup began**
is in the backup, in its shard's order: under ``durability="sync"`` that is
every put that returned; under ``"interval"`` and ``"none"``, every record
the engine had written to its segment files (puts return before that: records
acknowledged in the last ``flush_interval_ms`` may be missing, exactly what a
``kill -9`` at that moment could lose; ``engine.flush()`` before the backup
removes the difference).  Records written during the backup may or may not be
in it; per shard the backup holds a prefix of the shard's records as they were
at some moment during the backup (never a record without the ones before it).
Streams and queues are copied one after another, so the backup is not one
instant across shards: queues are copied before the streams, so under ``"sync"`` a
queue's delivery state never runs ahead of its stream's records (an
acknowledgement made during the backup may be missing, and that record is
then delivered again).  A stream deleted during the backup is left out, one created during
it may be in or not; the backup holds only the shards its copied
``stream.json`` names.  Records that retention expires during the backup may
be left out.

:func:`restore` checks every file against the manifest (size, SHA-256) before
the target directory appears, and refuses a target that is not empty: a
refused restore changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path, PurePosixPath

from .backup_manifest import NO_LINK_ERRNOS, BackupFile, BackupManifest, CorruptBackupError, file_sha256
from .fileio import SYSTEM_IO
from .format import EOS_MARKER, SEGMENT_NAME_RE, STORED_SCHEMA, CorruptSegmentError
from .jsonfile import TEMP_SUFFIX, fsync_directory, write_json_atomic
from .layout import ENGINE_FILE, LOCK_FILE, STREAM_FILE, check_format, shard_dir
from .queue_files import queues_dir
from .recovery import recover_segments

__all__ = ["BackupManifest", "CorruptBackupError", "backup"]

_CHUNK = 1 << 20
_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
_QUEUE_ATTEMPTS = 20


def _version() -> str:
    try:
        return importlib.metadata.version("shardstream")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _is_empty_or_missing(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def backup(data_dir: str | os.PathLike, dest: str | os.PathLike, *, verify: bool = False) -> BackupManifest:
    """Back up the data directory ``data_dir`` into the new directory ``dest``, even while an engine writes to it.

    See the module's documentation for what the backup holds and the
    consistent point it guarantees: every record acknowledged durably before
    the call began is in the backup.

    Parameters
    ----------
    data_dir : path-like
        An engine's data directory (``Engine(data_dir=...)``), or the
        ``--data-dir`` of ``shardstream serve`` (one engine directory per region).
    dest : path-like
        Where the backup goes: a directory that does not exist or is empty.
        On the data directory's file system, sealed segments are hard links
        (the backup then costs little space and time).
    verify : bool, optional
        Also check the CRC-32 of every batch of the sealed segments (reads
        them all); by default only their framing is checked, and the CRCs
        when an engine first reads them.

    Returns
    -------
    BackupManifest
        What the backup holds (also written as ``dest/backup.json``).

    Raises
    ------
    FileNotFoundError
        ``data_dir`` does not exist.
    FileExistsError
        ``dest`` is not empty.
    ValueError
        ``data_dir`` holds no ``engine.json``, ``dest`` lies inside it, or a
        document has a format this version does not read.
    CorruptSegmentError
        A sealed segment of the data directory is damaged (the backup is removed).

    Examples
    --------
    >>> import tempfile, pathlib, shardstream
    >>> src = tempfile.mkdtemp()
    >>> with shardstream.Engine(data_dir=src) as e:
    ...     _ = e.create_stream("s", shard_count=1).put_record(b"x", "k")
    >>> manifest = backup(src, pathlib.Path(tempfile.mkdtemp()) / "b")
    >>> manifest.linked_files >= 0
    True
    """
    source = Path(data_dir).absolute()
    target = Path(dest).absolute()
    if not source.is_dir():
        raise FileNotFoundError(f"no data directory {source}")
    if not _is_empty_or_missing(target):
        raise FileExistsError(f"backup destination {target} is not empty")
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise ValueError(f"backup destination {target} lies inside the data directory {source}")
    existed = target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _BackupRun(source, target, verify).run()
    except BaseException:
        if existed:
            for entry in target.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        else:
            shutil.rmtree(target, ignore_errors=True)
        raise


class _BackupRun:
    """One backup: walks the data directory, fills the destination, then writes the manifest."""

    def __init__(self, source: Path, dest: Path, verify: bool):
        self.source = source
        self.dest = dest
        self.verify = verify
        self.started_ms = int(time.time() * 1000)
        self._directories: list[str] = []
        self._files: dict[str, bool] = {}  # relative path -> linked
        self._may_link = True

    def run(self) -> BackupManifest:
        """Copy everything, seal the tails, checksum, sync, write ``backup.json``."""
        here = self.source / ENGINE_FILE
        if not here.is_file() and not any((entry / ENGINE_FILE).is_file() for entry in self.source.iterdir()):
            raise ValueError(
                f"{self.source} is not a shardstream data directory (no {ENGINE_FILE} in it or in its subdirectories)"
            )
        self._tree(self.source, PurePosixPath("."))
        files = [
            BackupFile(rel, (self.dest / rel).stat().st_size, file_sha256(self.dest / rel), linked)
            for rel, linked in sorted(self._files.items())
        ]
        for rel in reversed(self._directories):
            fsync_directory(self.dest / rel)
        fsync_directory(self.dest)
        manifest = BackupManifest(self.started_ms, str(self.source), _version(), list(self._directories), files)
        manifest.write(self.dest)
        return manifest

    # -- bookkeeping ---------------------------------------------------------------------

    def _mkdir(self, rel: PurePosixPath) -> None:
        if str(rel) == ".":
            return
        (self.dest / rel).mkdir(exist_ok=True)
        self._directories.append(str(rel))

    def _forget(self, rel: PurePosixPath) -> None:
        """Drop ``rel`` (a file or a directory and all under it) from the backup."""
        prefix = f"{rel}/"
        self._files = {p: v for p, v in self._files.items() if p != str(rel) and not p.startswith(prefix)}
        self._directories = [d for d in self._directories if d != str(rel) and not d.startswith(prefix)]
        path = self.dest / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    # -- copying -------------------------------------------------------------------------

    def _write(self, rel: PurePosixPath, data: bytes) -> None:
        with open(self.dest / rel, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._files[str(rel)] = False

    def _copy(self, src: Path, rel: PurePosixPath) -> None:
        """Copy ``src`` as it reads now, from one open file (a document replaced meanwhile reads whole)."""
        with open(src, "rb") as fin, open(self.dest / rel, "xb") as fout:
            while chunk := fin.read(_CHUNK):
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        self._files[str(rel)] = False

    def _link(self, src: Path, rel: PurePosixPath) -> None:
        """Hard-link ``src`` (an immutable file) into the backup; copy it where links cannot be made."""
        if self._may_link:
            try:
                os.link(src, self.dest / rel)
            except OSError as exc:
                if exc.errno not in NO_LINK_ERRNOS:
                    raise
                self._may_link = False
            else:
                self._files[str(rel)] = True
                return
        self._copy(src, rel)

    def _copy_sqlite(self, src: Path, rel: PurePosixPath) -> None:
        """A consistent copy of an SQLite database that may be in use (SQLite's online backup)."""
        try:
            reader = sqlite3.connect(f"{src.as_uri()}?mode=ro", uri=True)
            try:
                writer = sqlite3.connect(self.dest / rel)
                try:
                    reader.backup(writer)
                finally:
                    writer.close()
            finally:
                reader.close()
        except sqlite3.Error as exc:
            raise OSError(f"could not back up the SQLite database {src}: {exc}") from exc
        self._files[str(rel)] = False

    def _other_file(self, src: Path, rel: PurePosixPath) -> None:
        """A file the engine does not define: SQLite through its backup, anything else copied as is."""
        for suffix in _SQLITE_SIDECARS:  # part of the database beside it, which its backup includes
            if src.name.endswith(suffix) and _is_sqlite(src.with_name(src.name[: -len(suffix)])):
                return
        if _is_sqlite(src):
            self._copy_sqlite(src, rel)
        else:
            self._copy(src, rel)

    # -- the tree ------------------------------------------------------------------------

    def _tree(self, src: Path, rel: PurePosixPath) -> None:
        """Back up ``src``: an engine's directory if it has ``engine.json``, else each of its entries."""
        if (src / ENGINE_FILE).is_file():
            self._engine(src, rel)
            return
        self._mkdir(rel)
        for entry in sorted(src.iterdir()):
            if entry.is_symlink() or _is_temp(entry.name):
                continue
            if entry.is_dir():
                self._tree(entry, rel / entry.name)
            elif entry.is_file():
                self._other_file(entry, rel / entry.name)

    def _engine(self, src: Path, rel: PurePosixPath) -> None:
        """One engine's directory: ``engine.json`` (marked unclean), its queues, then its streams."""
        self._mkdir(rel)
        doc_path = src / ENGINE_FILE
        doc = check_format(json.loads(doc_path.read_bytes().decode("utf-8")), doc_path)
        doc["clean"] = False
        write_json_atomic(self.dest / rel / ENGINE_FILE, doc)
        self._files[str(rel / ENGINE_FILE)] = False
        queues = queues_dir(src)
        if queues.is_dir():
            self._mkdir(rel / queues.name)
            for entry in sorted(queues.iterdir()):
                if entry.is_dir():
                    self._queue(entry, rel / queues.name / entry.name)
        streams = src / "streams"
        self._mkdir(rel / streams.name)
        if streams.is_dir():
            for entry in sorted(streams.iterdir()):
                if entry.is_dir() and not _is_temp(entry.name):
                    self._stream(entry, rel / streams.name / entry.name)
        known = {ENGINE_FILE, LOCK_FILE, streams.name, queues.name, "trash"}
        for entry in sorted(src.iterdir()):
            if entry.name in known or entry.is_symlink() or _is_temp(entry.name):
                continue
            if entry.is_dir():
                self._tree(entry, rel / entry.name)
            elif entry.is_file():
                self._other_file(entry, rel / entry.name)

    def _queue(self, src: Path, rel: PurePosixPath) -> None:
        """One queue's directory: every file as listed; start over if one vanishes (a snapshot replaced it)."""
        for _ in range(_QUEUE_ATTEMPTS):
            self._mkdir(rel)
            try:
                for name in sorted(e.name for e in src.iterdir() if e.is_file() and not _is_temp(e.name)):
                    self._copy(src / name, rel / name)
                return
            except FileNotFoundError:
                self._forget(rel)
                if not src.is_dir():  # the queue was deleted meanwhile
                    return
        raise RuntimeError(f"queue directory {src} kept changing during {_QUEUE_ATTEMPTS} attempts to copy it")

    def _stream(self, src: Path, rel: PurePosixPath) -> None:
        """One stream: ``stream.json`` as read once, then the segments of each shard it names."""
        try:
            raw = (src / STREAM_FILE).read_bytes()
        except FileNotFoundError:
            return  # a creation not finished, or a deletion begun: not a stream (yet, any more)
        doc = check_format(json.loads(raw.decode("utf-8")), src / STREAM_FILE)
        self._mkdir(rel)
        self._mkdir(rel / "shards")
        self._write(rel / STREAM_FILE, raw)
        try:
            for shard in doc["shards"]:
                shard_src = shard_dir(src, int(shard["index"]))
                self._shard(shard_src, rel / "shards" / shard_src.name)
        except FileNotFoundError:
            if (src / STREAM_FILE).exists():
                raise
        if not (src / STREAM_FILE).exists():  # deleted during the backup: leave it out
            self._forget(rel)

    def _shard(self, src: Path, rel: PurePosixPath) -> None:
        """One shard: link the sealed segments, copy the newest, cut and seal the copy where recovery says."""
        self._mkdir(rel)
        if not src.is_dir():
            return  # no segment written yet (the engine makes the directory)
        names = sorted(e.name for e in src.iterdir() if SEGMENT_NAME_RE.fullmatch(e.name))
        if not names:
            return
        *sealed, newest = names
        linked = []
        for name in sealed:
            try:
                self._link(src / name, rel / name)
            except FileNotFoundError:
                # Retention deleted it meanwhile, and every older one before it: so must the backup.
                for older in linked:
                    self._forget(rel / older)
                linked = []
                continue
            linked.append(name)
        try:
            self._copy(src / newest, rel / newest)
        except FileNotFoundError:
            # Retention keeps a shard's newest segment: gone, it had expired after a roll, with all before it
            # (or the stream was deleted, which the caller checks).
            self._forget(rel)
            self._mkdir(rel)
            return
        self._seal_tail(src, rel, newest)

    def _seal_tail(self, src: Path, rel: PurePosixPath, newest: str) -> None:
        """Cut the copied newest segment at its last complete batch (as recovery finds it) and seal it."""
        directory = self.dest / rel
        try:
            recovered = recover_segments(
                directory, STORED_SCHEMA, readonly=True, verify_sealed=self.verify, expect_sealed=False, io=SYSTEM_IO
            )
        except CorruptSegmentError as exc:  # a sealed segment, shared or copied: name the data directory's file
            raise CorruptSegmentError(src / Path(exc.path).name, exc.offset, exc.reason) from None
        tail = directory / newest
        if recovered.tail_limit is not None and recovered.tail_limit[0] == tail:
            end = recovered.tail_limit[1]
            with open(tail, "r+b") as f:
                f.truncate(end)
                f.seek(end)
                f.write(EOS_MARKER)
                f.flush()
                os.fsync(f.fileno())
            return
        # The copy holds no complete batch (a segment just begun): leave it out.  The
        # newest left is then a linked segment, which must be sealed already.
        self._forget(rel / newest)
        if recovered.tail_limit is not None:
            path, end = recovered.tail_limit
            if path.stat().st_size != end + len(EOS_MARKER) or _last_bytes(path) != EOS_MARKER:
                raise CorruptSegmentError(path, end, "missing end-of-stream marker in a sealed segment")


def _last_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-len(EOS_MARKER), os.SEEK_END)
        return f.read()


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except (FileNotFoundError, IsADirectoryError):
        return False
