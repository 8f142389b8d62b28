"""``shardstream backup DATA_DIR DEST`` and ``shardstream restore BACKUP DATA_DIR``.

Thin click commands over :func:`shardstream.storage.backup.backup` and
:func:`shardstream.storage.restore.restore` (see :mod:`shardstream.storage.backup`
for what a backup holds and guarantees).  Errors are one line on stderr
(``Error: ...``) with exit status 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from .storage.backup import backup as backup_data_dir
from .storage.format import CorruptSegmentError
from .storage.restore import restore as restore_backup

__all__ = ["backup", "restore"]


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@click.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="Also check the CRC-32 of every batch of the sealed segments.")
def backup(data_dir: Path, dest: Path, verify: bool) -> None:
    """Back up the data directory DATA_DIR into DEST (new or empty), even while a server or engine writes to it.

    Every record acknowledged durably before the backup began is in it (with
    durability "sync": every put that returned).  Sealed segments are hard
    links when DEST is on the same file system (copies otherwise); each
    shard's newest segment is copied up to its last complete batch.
    DEST/backup.json lists every file with its size and SHA-256.
    """
    try:
        manifest = backup_data_dir(data_dir, dest, verify=verify)
    except (OSError, ValueError, RuntimeError, CorruptSegmentError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Backed up {data_dir} to {dest}: {len(manifest.files)} files, {_size(manifest.total_bytes)} "
        f"({manifest.linked_files} hard-linked)."
    )


@click.command()
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(file_okay=False, path_type=Path))
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--link", is_flag=True, help="Hard-link the files from BACKUP instead of copying them.")
def restore(backup_dir: Path, data_dir: Path, link: bool) -> None:
    """Restore BACKUP (made by `shardstream backup`) as the data directory DATA_DIR (new or empty).

    Every file is checked against BACKUP/backup.json (size and SHA-256)
    first: an incomplete or damaged backup, or a DATA_DIR that is not
    empty, is refused and nothing is changed.
    """
    try:
        manifest = restore_backup(backup_dir, data_dir, link=link)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Restored {backup_dir} to {data_dir}: {len(manifest.files)} files, {_size(manifest.total_bytes)} "
        f"(backup taken from {manifest.source})."
    )
