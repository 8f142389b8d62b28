"""Atomic JSON metadata documents.

On-disk format
--------------
A :class:`Catalog` directory holds one UTF-8 JSON file per stream,
``<name>.json``.  Every write goes through :func:`write_json_atomic`:

1. write the document to a temporary file in the *same* directory, named
   ``.<final name>.<pid>.<random>.tmp`` (a leading dot, so it is never a
   document name);
2. ``fsync`` the temporary file;
3. ``os.replace`` it onto the final name (atomic on POSIX within a file system);
4. ``fsync`` the directory, so the rename itself survives a power loss.

After a crash at any point a reader therefore sees either the complete old
document or the complete new one, never a mix.  A crash between steps 1 and 3
leaves a stray temporary file behind; readers ignore it and
:class:`Catalog` removes such files when it is opened.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any

__all__ = ["TEMP_SUFFIX", "Catalog", "fsync_directory", "read_json", "write_json_atomic"]

TEMP_SUFFIX = ".tmp"
DOCUMENT_SUFFIX = ".json"
# Kinesis stream names: 1-128 characters of [a-zA-Z0-9_.-].  A leading dot is
# refused as well, since dot-files are reserved for temporary files.
_NAME_RE = re.compile(r"[a-zA-Z0-9_\-][a-zA-Z0-9_.\-]{0,127}")


def fsync_directory(directory: str | os.PathLike) -> None:
    """``fsync`` a directory so that entries created, renamed or removed in it are durable.

    Parameters
    ----------
    directory : path-like
        The directory to sync.
    """
    fd = os.open(os.fspath(directory), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` so that a crash leaves the old or the new document.

    Parameters
    ----------
    path : path-like
        The final file name.  Its directory must exist.
    obj : object
        Anything :func:`json.dumps` accepts.

    Notes
    -----
    The temporary file lives in the same directory as ``path`` (a rename across
    file systems would not be atomic) and is removed if anything fails before
    the rename.
    """
    path = Path(path)
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(path.parent)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON document written by :func:`write_json_atomic`.

    Parameters
    ----------
    path : path-like
        The final file name (temporary files beside it are ignored).

    Returns
    -------
    object
        The decoded document.

    Raises
    ------
    FileNotFoundError
        If no document was ever committed at ``path``.
    """
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


class Catalog:
    """Per-stream metadata documents in one directory, each written atomically.

    Layout: ``<directory>/<name>.json`` per stream (see the module docstring);
    dot-files ending in ``.tmp`` are uncommitted writes and are ignored.

    Thread safety: the methods of one instance may be called from any thread;
    a lock serialises writers.  Only one process may write a directory.

    Parameters
    ----------
    directory : path-like
        Created if missing.  Stray temporary files left by a crash are removed.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        for entry in self.directory.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                entry.unlink(missing_ok=True)

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ValueError(f"invalid catalog name: {name!r}")
        return self.directory / (name + DOCUMENT_SUFFIX)

    def put(self, name: str, doc: Any) -> None:
        """Store ``doc`` under ``name``, replacing any previous document atomically.

        Parameters
        ----------
        name : str
            A stream name: 1-128 characters of ``[a-zA-Z0-9_.-]``, not starting with a dot.
        doc : object
            A JSON-serialisable document.
        """
        path = self._path(name)
        with self._lock:
            write_json_atomic(path, doc)

    def get(self, name: str, default: Any = None) -> Any:
        """The document stored under ``name``, or ``default`` if there is none.

        Parameters
        ----------
        name : str
            The stream name.
        default : object, optional
            Returned when no document exists.
        """
        try:
            return read_json(self._path(name))
        except FileNotFoundError:
            return default

    def delete(self, name: str) -> bool:
        """Remove the document stored under ``name``.

        Returns
        -------
        bool
            True if a document was removed, False if there was none.
        """
        path = self._path(name)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            fsync_directory(self.directory)
            return True

    def names(self) -> list[str]:
        """The names of all stored documents, sorted."""
        return sorted(
            entry.name[: -len(DOCUMENT_SUFFIX)]
            for entry in self.directory.iterdir()
            if entry.name.endswith(DOCUMENT_SUFFIX) and not entry.name.startswith(".")
        )

    def __contains__(self, name: str) -> bool:
        return self._path(name).exists()

    def __repr__(self) -> str:
        return f"Catalog({str(self.directory)!r})"
