"""The system calls that write segment files, behind one object.

:class:`SegmentIO` is the seam between the segment logs and the operating
system: every byte a :class:`~shardstream.storage.segment.SegmentWriter`
writes, every ``fsync`` and every truncation goes through one instance.  The
default, :data:`SYSTEM_IO`, calls :mod:`os` directly.  Tests hand an engine a
subclass that fails on demand (``OSError(errno.ENOSPC)``, a write cut short)
to check what a full disk does, without a full disk.
"""

from __future__ import annotations

import errno
import os

__all__ = ["DISK_FULL_ERRNOS", "SYSTEM_IO", "SegmentIO", "is_disk_full"]

#: ``errno`` values meaning "no room": no space left, or over a quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

_IOV_MAX = 512  # buffers per pwritev call (the system limit is at least 1024)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is an ``OSError`` for a full disk or quota."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__
    return False


class SegmentIO:
    """Writes, syncs and truncates segment files (file descriptors opened by the caller).

    Methods either do all they were asked or raise ``OSError``; a write that
    raises may have written a prefix of its bytes (the caller truncates).
    """

    def write(self, fd: int, buffers: list, offset: int) -> int:
        """Write ``buffers`` (bytes-like objects) contiguously at ``offset``; returns the bytes written.

        Parameters
        ----------
        fd : int
            A file descriptor open for writing.
        buffers : list of bytes-like
        offset : int
            File offset of the first byte.
        """
        views = [memoryview(b).cast("B") for b in buffers]
        total = sum(v.nbytes for v in views)
        done = 0
        while views:
            n = os.pwritev(fd, views[:_IOV_MAX], offset + done)
            if n == 0 and any(v.nbytes for v in views):
                raise OSError(errno.EIO, "a write made no progress")
            done += n
            while views and n >= views[0].nbytes:
                n -= views[0].nbytes
                views.pop(0)
            if n:
                views[0] = views[0][n:]
        return total

    def fsync(self, fd: int) -> None:
        """``fsync(fd)``: what was written to ``fd`` survives a power failure once this returns."""
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        """Cut the file open as ``fd`` to ``size`` bytes (never needs free space)."""
        os.ftruncate(fd, size)


#: The default: plain system calls.
SYSTEM_IO = SegmentIO()
