"""Where an engine's data directory keeps what.

::

    <data_dir>/
        LOCK                         locked (flock) by the engine that has the directory open
        engine.json                  format version, region, account, iterator secret, account settings
        streams/
            <name>.<incarnation:016x>/
                stream.json          the stream's metadata: settings, tags, shards and lineage
                shards/
                    shardId-000000000000/
                        00000000000000000001.arrows     segments (see :mod:`.format`)
                        ...
        trash/                       streams being deleted (emptied when the engine opens)

Every JSON document is replaced atomically (:func:`.jsonfile.write_json_atomic`).
A stream exists exactly when its directory holds a ``stream.json``: creation
writes the document before the stream accepts a record, and deletion renames
the whole directory into ``trash/`` (one atomic step) before removing it.  The
incarnation in the directory name keeps a re-created stream of the same name
apart from a deleted one still being removed.

Stream documents carry ``"format": 1``; a reader refuses a newer format rather
than misread it.  The fields a reader without an engine needs (replay) are
``name``, ``created_ms``, ``retention_hours`` and ``shards``, a list of objects
with ``index``, ``starting_hash_key`` and ``ending_hash_key`` (decimal strings),
``created_ms``, ``parent``, ``adjacent_parent`` and ``closed_ms``.  The other
fields are the engine's; ones added since format 1 began may be absent from
older documents and take their defaults (``record_distribution``:
``"USER_PARTITION_KEY"``).  ``sequence_layout`` is 2 for streams whose
sequence numbers use AWS's layout (:mod:`shardstream.sequence`); streams
written before that lack it, their segments hold numbers in the older layout,
and readers re-derive each record's number from its ``counter`` and arrival time.
"""

from __future__ import annotations

import os
from pathlib import Path

from .jsonfile import read_json

__all__ = [
    "ENGINE_FILE",
    "FORMAT_VERSION",
    "LOCK_FILE",
    "STREAM_FILE",
    "StoredStream",
    "engine_file",
    "find_stream",
    "list_streams",
    "shard_dir",
    "stream_dir_name",
    "streams_dir",
    "trash_dir",
]

FORMAT_VERSION = 1
ENGINE_FILE = "engine.json"
LOCK_FILE = "LOCK"
STREAM_FILE = "stream.json"


class StoredStream:
    """A stream found in a data directory: its directory and metadata document.

    Parameters
    ----------
    path : pathlib.Path
    doc : dict

    Attributes
    ----------
    path : pathlib.Path
        The stream's directory.
    doc : dict
        The parsed ``stream.json``.
    """

    __slots__ = ("doc", "path")

    def __init__(self, path: Path, doc: dict):
        self.path = path
        self.doc = doc

    @property
    def name(self) -> str:
        """The stream's name (from ``stream.json``)."""
        return self.doc["name"]

    def shard_dir(self, index: int) -> Path:
        """The segment directory of shard ``index``."""
        return shard_dir(self.path, index)

    def __repr__(self) -> str:
        return f"StoredStream({self.name!r}, {str(self.path)!r})"


def engine_file(data_dir: str | os.PathLike) -> Path:
    """The engine document of ``data_dir``: ``<data_dir>/engine.json``."""
    return Path(data_dir) / ENGINE_FILE


def streams_dir(data_dir: str | os.PathLike) -> Path:
    """The stream directories' parent in ``data_dir``: ``<data_dir>/streams``."""
    return Path(data_dir) / "streams"


def trash_dir(data_dir: str | os.PathLike) -> Path:
    """Where ``data_dir`` keeps streams being deleted: ``<data_dir>/trash``."""
    return Path(data_dir) / "trash"


def stream_dir_name(name: str, incarnation: int) -> str:
    """The directory name of stream ``name``: ``<name>.<incarnation>``, ``incarnation`` as 16 hex digits."""
    return f"{name}.{incarnation:016x}"


def shard_dir(stream_path: str | os.PathLike, index: int) -> Path:
    """The segment directory of shard ``index`` in ``stream_path``: ``shards/shardId-<index:012d>``."""
    return Path(stream_path) / "shards" / f"shardId-{index:012d}"


def check_format(doc: dict, path: Path) -> dict:
    """``doc`` if its format is one this version reads.

    Parameters
    ----------
    doc : dict
        A parsed ``engine.json`` or ``stream.json``.
    path : pathlib.Path
        Where it was read, for the message.

    Returns
    -------
    dict
        ``doc`` itself.

    Raises
    ------
    ValueError
        Not a dict, or a ``format`` other than :data:`FORMAT_VERSION`.
    """
    version = doc.get("format") if isinstance(doc, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has format {version!r}; this version of shardstream reads format {FORMAT_VERSION}")
    return doc


def list_streams(data_dir: str | os.PathLike) -> list[StoredStream]:
    """Every stream stored under ``data_dir``, by name.

    Directories without a ``stream.json`` (a creation cut short by a crash)
    are skipped, not removed: that is the engine's job when it opens.

    Parameters
    ----------
    data_dir : str or path-like

    Returns
    -------
    list of StoredStream
        Empty when there is no ``streams/`` directory.

    Raises
    ------
    ValueError
        A ``stream.json`` of another format (:func:`check_format`).
    """
    root = streams_dir(data_dir)
    found = []
    if not root.is_dir():
        return found
    for entry in sorted(root.iterdir()):
        doc_path = entry / STREAM_FILE
        if not entry.is_dir() or not doc_path.is_file():
            continue
        found.append(StoredStream(entry, check_format(read_json(doc_path), doc_path)))
    return sorted(found, key=lambda s: s.name)


def find_stream(data_dir: str | os.PathLike, name: str) -> StoredStream | None:
    """The stream called ``name`` under ``data_dir``, or None."""
    for stored in list_streams(data_dir):
        if stored.name == name:
            return stored
    return None
