"""Atomic JSON metadata documents.

On-disk format
--------------
Metadata documents (``engine.json``, each stream's ``stream.json``) are
UTF-8 JSON files, and every write goes through :func:`write_json_atomic`:

1. write the document to a temporary file in the *same* directory, named
   ``.<final name>.<pid>.<random>.tmp`` (a leading dot, so it is never a
   document name);
2. ``fsync`` the temporary file;
3. ``os.replace`` it onto the final name (atomic on POSIX within a file system);
4. ``fsync`` the directory, so the rename itself survives a power loss.

After a crash at any point a reader therefore sees either the complete old
document or the complete new one, never a mix.  A crash between steps 1 and 3
leaves a stray temporary file behind; readers ignore it and
:func:`remove_stale_temp_files` removes such files (the engine calls it when
it opens a data directory).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = [
    "TEMP_SUFFIX",
    "fsync_directory",
    "read_json",
    "remove_stale_temp_files",
    "write_bytes_atomic",
    "write_json_atomic",
]

TEMP_SUFFIX = ".tmp"


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
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    write_bytes_atomic(path, data)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` as :func:`write_json_atomic` writes a document: all or nothing.

    Parameters
    ----------
    path : path-like
        The final file name.  Its directory must exist.
    data : bytes
    """
    path = Path(path)
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
    ValueError
        If the file is not UTF-8 JSON (naming the file).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{os.fspath(path)} is not a valid JSON document: {exc}") from None


def remove_stale_temp_files(directory: str | os.PathLike) -> int:
    """Remove the temporary files that crashes left in ``directory`` (uncommitted writes).

    Parameters
    ----------
    directory : str or path-like

    Returns
    -------
    int
        How many were removed.
    """
    removed = 0
    for entry in Path(directory).iterdir():
        if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
