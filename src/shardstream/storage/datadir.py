"""Opening a data directory: the lock, ``engine.json``, and leftovers of crashes.

See :mod:`.layout` for what lives where.  :class:`DataDirectory` is what an
engine holds while it has a directory open:

* an exclusive ``flock`` on ``LOCK`` (two engines writing one directory would
  corrupt it; the second gets :class:`DataDirectoryLocked`);
* ``engine.json``: region and account (checked on reopen), the secret that
  signs shard iterators (so iterators survive a restart), account settings,
  and ``clean``, set false while open and true by a clean close, which tells
  the next open whether sequence counters must skip ahead (see
  :mod:`shardstream.durable`);
* clean-up of what a crash can leave: the ``trash/`` of half-deleted streams,
  stream directories whose creation never wrote ``stream.json``, and
  uncommitted temporary JSON files.

Opening needs no free space: when ``engine.json`` cannot be rewritten (a full
disk), the directory opens all the same and :meth:`DataDirectory.mark_in_use`
(which the engine calls before the first write it accepts) marks it later;
until then nothing is written, so the old ``clean`` flag stays true.
"""

from __future__ import annotations

import copy
import fcntl
import logging
import os
import secrets
import shutil
from pathlib import Path

from .fileio import is_disk_full
from .jsonfile import fsync_directory, read_json, remove_stale_temp_files, write_json_atomic
from .layout import FORMAT_VERSION, LOCK_FILE, STREAM_FILE, check_format, engine_file, streams_dir, trash_dir

__all__ = ["DataDirectory", "DataDirectoryLocked"]

_log = logging.getLogger("shardstream.storage")


class DataDirectoryLocked(RuntimeError):
    """Another engine (in this or another process) has the data directory open."""


class DataDirectory:
    """An open data directory (use :meth:`open`).

    Parameters
    ----------
    path : pathlib.Path
    lock_fd : int
        The open ``LOCK`` file, already locked (closed by :meth:`close`).
    doc : dict
        The contents of ``engine.json`` as they will be written.
    was_clean : bool
    on_disk : dict or None
        ``engine.json`` as last read (None: there is no file yet).

    Attributes
    ----------
    path : pathlib.Path
    doc : dict
        The contents of ``engine.json``.
    was_clean : bool
        Whether the previous engine closed the directory cleanly (True for a
        new directory).
    """

    def __init__(self, path: Path, lock_fd: int, doc: dict, was_clean: bool, on_disk: dict | None = None):
        self.path = path
        self._lock_fd = lock_fd
        self.doc = doc
        self.was_clean = was_clean
        self._on_disk = on_disk  # engine.json as last read or written (None: no file yet)
        self._in_use = False  # engine.json says clean: false

    @classmethod
    def open(cls, path, *, region: str, account_id: str) -> DataDirectory:
        """Lock ``path`` (creating it if needed), check and mark ``engine.json``, clear crash leftovers.

        Parameters
        ----------
        path : str or path-like
        region, account_id : str
            Recorded in a new ``engine.json``; an existing one must match.

        Returns
        -------
        DataDirectory

        Raises
        ------
        DataDirectoryLocked
            Another engine has it open.
        ValueError
            It belongs to another region or account, or has a newer format.
        """
        path = Path(path).absolute()
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise DataDirectoryLocked(
                    f"data directory {path} is in use by another engine (process {holder})"
                ) from None
            try:  # who holds the lock, for the message above: nice to have, not worth failing for
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
            doc_path = engine_file(path)
            if doc_path.exists():
                doc = check_format(read_json(doc_path), doc_path)
                if (doc["region"], doc["account_id"]) != (region, account_id):
                    raise ValueError(
                        f"data directory {path} belongs to region {doc['region']} and account "
                        f"{doc['account_id']}, not {region} and {account_id}"
                    )
                was_clean = bool(doc.get("clean"))
                on_disk = copy.deepcopy(doc)
            else:
                doc = {
                    "format": FORMAT_VERSION,
                    "region": region,
                    "account_id": account_id,
                    "iterator_secret": secrets.token_hex(32),
                    "billing_commitment": {"Status": "DISABLED"},
                }
                was_clean = True
                on_disk = None
            self = cls(path, fd, doc, was_clean, on_disk)
            self._clear_leftovers()
            try:
                self.mark_in_use()
            except OSError as exc:
                if not is_disk_full(exc) or on_disk is None:
                    raise
                _log.warning("data directory %s is full: opened without marking it in use (%s)", path, exc)
            return self
        except BaseException:
            os.close(fd)
            raise

    @property
    def iterator_secret(self) -> bytes:
        """The key that signs this directory's shard iterators and page tokens (from ``engine.json``)."""
        return bytes.fromhex(self.doc["iterator_secret"])

    def mark_in_use(self) -> None:
        """Make ``engine.json`` say the directory is open (not cleanly closed), once.

        Must precede any write to the streams, so that a crash is detected.

        Raises
        ------
        OSError
            It could not be written (a full disk); call again later.
        """
        if not self._in_use:
            self.save(clean=False)
            self._in_use = True

    def save(self, *, clean: bool | None = None, **fields) -> None:
        """Update ``engine.json`` with ``fields`` (and the ``clean`` flag) atomically.

        Writes nothing when the document would not change.

        Parameters
        ----------
        clean : bool, optional
            The new ``clean`` flag (None: unchanged).
        **fields
            Top-level members to set.

        Raises
        ------
        OSError
            The file could not be written (``self.doc`` is updated all the same).
        """
        self.doc.update(fields)
        if clean is not None:
            self.doc["clean"] = clean
        if self.doc == self._on_disk:
            return
        write_json_atomic(engine_file(self.path), self.doc)
        self._on_disk = copy.deepcopy(self.doc)

    def _clear_leftovers(self) -> None:
        shutil.rmtree(trash_dir(self.path), ignore_errors=True)
        root = streams_dir(self.path)
        root.mkdir(exist_ok=True)
        remove_stale_temp_files(self.path)
        removed = False
        for entry in root.iterdir():
            if entry.is_dir() and not (entry / STREAM_FILE).exists():
                shutil.rmtree(entry, ignore_errors=True)
                removed = True
            elif entry.is_dir():
                remove_stale_temp_files(entry)
        if removed:
            fsync_directory(root)

    def close(self, *, clean: bool = True) -> None:
        """Mark the directory cleanly closed (with ``clean``) and release the lock.  Idempotent.

        If ``engine.json`` cannot be written (a full disk) the directory stays
        marked in use, which only makes the next open recover as after a
        crash; that is logged, not raised.

        Parameters
        ----------
        clean : bool
            False leaves ``engine.json`` saying the directory is in use.
        """
        if self._lock_fd < 0:
            return
        try:
            if clean:
                self.save(clean=True)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            _log.warning("could not mark data directory %s cleanly closed: %s", self.path, exc)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def release(self) -> None:
        """Release the lock without marking a clean close (as a crash would; tests)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
