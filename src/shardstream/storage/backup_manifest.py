"""A backup's manifest, ``backup.json``: what a backup holds, and the checks that it is all there.

A backup (:mod:`.backup`) is a directory tree that mirrors a data directory,
plus ``backup.json``, written last (atomically, :func:`.jsonfile.write_json_atomic`)::

    {
      "format": "shardstream-backup",
      "version": 1,
      "created": "2026-12-06T10:00:00.000Z",      # when the backup began (UTC)
      "created_ms": 1796551200000,
      "source": "/var/lib/streams",                # the data directory backed up
      "shardstream": "0.1.0",
      "directories": ["us-east-1", "us-east-1/streams", ...],
      "files": [{"path": "us-east-1/engine.json", "size": 412, "sha256": "...", "linked": false}, ...]
    }

Paths are relative, ``/``-separated, and never leave the backup.  A
directory without ``backup.json`` is an incomplete backup (one cut short);
:func:`load_manifest` and :meth:`BackupManifest.verify` refuse it, and any
file whose size or SHA-256 differs, with :class:`CorruptBackupError`.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import hashlib
import os
from pathlib import Path, PurePosixPath

from .jsonfile import read_json, write_json_atomic

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_VERSION",
    "MANIFEST_FILE",
    "NO_LINK_ERRNOS",
    "BackupFile",
    "BackupManifest",
    "CorruptBackupError",
    "file_sha256",
    "load_manifest",
]

MANIFEST_FILE = "backup.json"
#: ``errno`` values of ``os.link`` after which a copy will do: another file system, no hard links, too many.
NO_LINK_ERRNOS = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})
BACKUP_FORMAT = "shardstream-backup"
BACKUP_VERSION = 1
_CHUNK = 1 << 20


class CorruptBackupError(ValueError):
    """A backup is incomplete (no manifest), damaged, or not a backup this version reads."""


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path``, as 64 hex digits.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _relative(text: str) -> PurePosixPath:
    """``text`` as a path inside the backup; raises :class:`CorruptBackupError` for one that leaves it."""
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ".." in path.parts or str(path) != text:
        raise CorruptBackupError(f"the backup manifest names an invalid path {text!r}")
    return path


@dataclasses.dataclass(frozen=True)
class BackupFile:
    """One file of a backup.

    Attributes
    ----------
    path : str
        Relative to the backup's root, ``/``-separated.
    size : int
        Bytes.
    sha256 : str
        Its SHA-256 (hex).
    linked : bool
        Shared with the data directory by a hard link (a sealed segment) rather than copied.
    """

    path: str
    size: int
    sha256: str
    linked: bool = False


@dataclasses.dataclass
class BackupManifest:
    """What a backup holds (the contents of ``backup.json``).

    Parameters
    ----------
    created_ms : int
        When the backup began, ms since the epoch.
    source : str
        The data directory that was backed up.
    version : str
        shardstream's version that took it.
    directories : list of str
        Every directory of the backup (relative), parents before children.
    files : list of BackupFile
        Every file but the manifest.
    """

    created_ms: int
    source: str
    version: str
    directories: list = dataclasses.field(default_factory=list)
    files: list = dataclasses.field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """The bytes of all the files."""
        return sum(f.size for f in self.files)

    @property
    def linked_files(self) -> int:
        """How many files are hard links to the data directory's."""
        return sum(1 for f in self.files if f.linked)

    def to_json(self) -> dict:
        """The manifest as the JSON document ``backup.json`` holds."""
        created = datetime.datetime.fromtimestamp(self.created_ms / 1000, datetime.timezone.utc)
        return {
            "format": BACKUP_FORMAT,
            "version": BACKUP_VERSION,
            "created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "created_ms": self.created_ms,
            "source": self.source,
            "shardstream": self.version,
            "directories": list(self.directories),
            "files": [dataclasses.asdict(f) for f in self.files],
        }

    @classmethod
    def from_json(cls, doc) -> BackupManifest:
        """Parse a ``backup.json`` document.

        Parameters
        ----------
        doc : object
            The parsed JSON.

        Returns
        -------
        BackupManifest

        Raises
        ------
        CorruptBackupError
            Not a manifest, a newer version, or a malformed entry.
        """
        if not isinstance(doc, dict) or doc.get("format") != BACKUP_FORMAT:
            raise CorruptBackupError("backup.json is not a shardstream backup manifest")
        if doc.get("version") != BACKUP_VERSION:
            raise CorruptBackupError(
                f"backup.json has version {doc.get('version')!r}; this version of shardstream reads {BACKUP_VERSION}"
            )
        try:
            files = [
                BackupFile(str(_relative(f["path"])), int(f["size"]), str(f["sha256"]), bool(f.get("linked")))
                for f in doc["files"]
            ]
            directories = [str(_relative(d)) for d in doc["directories"]]
            return cls(int(doc["created_ms"]), str(doc["source"]), str(doc["shardstream"]), directories, files)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CorruptBackupError):
                raise
            raise CorruptBackupError(f"backup.json is malformed: {exc!r}") from None

    def write(self, root: str | os.PathLike) -> None:
        """Write ``backup.json`` into ``root`` atomically (what makes the backup complete).

        Parameters
        ----------
        root : path-like
        """
        write_json_atomic(Path(root) / MANIFEST_FILE, self.to_json())

    def verify(self, root: str | os.PathLike) -> None:
        """Check that every file the manifest names is in ``root`` with its size and SHA-256.

        Parameters
        ----------
        root : path-like
            The backup's root.

        Raises
        ------
        CorruptBackupError
            A file is missing, or its size or checksum differs (the first one found is named).
        """
        root = Path(root)
        for d in self.directories:
            if not (root / d).is_dir():
                raise CorruptBackupError(f"backup {root} is incomplete: directory {d} is missing")
        for f in self.files:
            path = root / f.path
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise CorruptBackupError(f"backup {root} is incomplete: {f.path} is missing") from None
            if size != f.size:
                raise CorruptBackupError(f"backup {root} is corrupt: {f.path} has {size} bytes, not {f.size}")
            if file_sha256(path) != f.sha256:
                raise CorruptBackupError(f"backup {root} is corrupt: {f.path} fails its SHA-256 check")


def load_manifest(root: str | os.PathLike) -> BackupManifest:
    """The manifest of the backup in ``root``.

    Parameters
    ----------
    root : path-like

    Returns
    -------
    BackupManifest

    Raises
    ------
    CorruptBackupError
        ``root`` has no ``backup.json`` (not a backup, or one cut short) or an unreadable one.
    FileNotFoundError
        ``root`` does not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no backup directory {root}")
    path = root / MANIFEST_FILE
    if not path.is_file():
        raise CorruptBackupError(f"{root} is not a complete backup: it has no {MANIFEST_FILE}")
    try:
        doc = read_json(path)
    except ValueError as exc:
        raise CorruptBackupError(str(exc)) from None
    return BackupManifest.from_json(doc)
