"""Restoring a backup (:mod:`.backup`) into a new data directory: all of it, checked, or nothing.

:func:`restore` reads the backup's manifest, refuses a target directory that
is not empty, checks every file of the backup (size and SHA-256), then builds
the data directory beside the target under a temporary name and renames it
into place: the target appears whole or not at all.  An existing empty target
(it may be a mount point, which a rename cannot replace) is built in a
temporary directory inside it, whose entries are then renamed into it.  A
refused restore (an incomplete or damaged backup, a non-empty target) changes
nothing.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from .backup_manifest import NO_LINK_ERRNOS, BackupManifest, load_manifest
from .jsonfile import fsync_directory

__all__ = ["restore"]


def restore(backup: str | os.PathLike, data_dir: str | os.PathLike, *, link: bool = False) -> BackupManifest:
    """Restore the backup in ``backup`` as the data directory ``data_dir``.

    Open the result with ``Engine(data_dir=...)`` (or ``shardstream serve
    --data-dir`` if the backup was of a server's directory); it recovers as
    after a crash (see :mod:`.backup`) and accepts writes.

    Parameters
    ----------
    backup : path-like
        A directory made by :func:`~shardstream.storage.backup.backup`.
    data_dir : path-like
        The data directory to create: it must not exist or be empty.
    link : bool, optional
        Hard-link the files instead of copying them (where the file system
        allows; copied otherwise).  The restored directory then shares
        segment files with the backup: fast, but damage to one is damage to
        both.  Default False.

    Returns
    -------
    BackupManifest
        The manifest of what was restored.

    Raises
    ------
    FileNotFoundError
        ``backup`` does not exist.
    CorruptBackupError
        The backup has no manifest (incomplete), or a file is missing or
        differs from the manifest (size or SHA-256).  Nothing was changed.
    FileExistsError
        ``data_dir`` exists and is not empty.  Nothing was changed.

    Examples
    --------
    >>> import tempfile, pathlib, shardstream
    >>> from shardstream.storage.backup import backup
    >>> src = tempfile.mkdtemp()
    >>> with shardstream.Engine(data_dir=src) as e:
    ...     _ = e.create_stream("s", shard_count=1).put_record(b"x", "k")
    >>> saved = pathlib.Path(tempfile.mkdtemp()) / "saved"
    >>> _ = backup(src, saved)
    >>> _ = restore(saved, pathlib.Path(tempfile.mkdtemp()) / "restored")
    """
    root = Path(backup).absolute()
    manifest = load_manifest(root)
    target = Path(data_dir).absolute()
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise FileExistsError(f"restore target {target} is not an empty directory")
    manifest.verify(root)
    existed = target.is_dir()
    if existed:  # perhaps a mount point, which no rename may replace: build inside it
        staging = target / f".restore-{secrets.token_hex(4)}"
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    staging.mkdir()
    try:
        _materialize(manifest, root, staging, link)
        if existed:
            for entry in sorted(staging.iterdir()):
                os.rename(entry, target / entry.name)
            staging.rmdir()
            fsync_directory(target)
        else:
            os.rename(staging, target)  # the whole directory appears in one step
            fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _materialize(manifest: BackupManifest, root: Path, staging: Path, link: bool) -> None:
    """Make the backup's directories and files under ``staging`` and sync them."""
    for d in manifest.directories:
        (staging / d).mkdir(parents=True, exist_ok=True)
    may_link = link
    for f in manifest.files:
        src, dst = root / f.path, staging / f.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if may_link:
            try:
                os.link(src, dst)
                continue
            except OSError as exc:
                if exc.errno not in NO_LINK_ERRNOS:
                    raise
                may_link = False
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for d in reversed(manifest.directories):
        fsync_directory(staging / d)
    fsync_directory(staging)
