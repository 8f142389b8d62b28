"""Progress bars of a ``shardstream bench`` run: rich's on stderr, or none.

Both classes offer ``task(description, total)`` (a handle) and
``advance(handle, n)``, callable from any thread.
"""

from __future__ import annotations

__all__ = ["NoProgress", "RichProgress"]


class NoProgress:
    """Progress that shows nothing (``--no-progress``)."""

    def task(self, description: str, total: float | None) -> int:
        """A new task (nothing shown); its handle.

        Parameters
        ----------
        description : str
        total : float or None
        """
        return 0

    def advance(self, handle: int, n: float = 1) -> None:
        """Nothing to advance (``handle``, ``n`` ignored)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None


class RichProgress:
    """rich progress bars on stderr, one per task (rich's Progress is thread-safe)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )

    def task(self, description: str, total: float | None) -> int:
        """A new bar; its handle.

        Parameters
        ----------
        description : str
        total : float or None
            None: an indeterminate bar.

        Returns
        -------
        int
        """
        return self._progress.add_task(description, total=total)

    def advance(self, handle: int, n: float = 1) -> None:
        """Move bar ``handle`` on by ``n``.

        Parameters
        ----------
        handle : int
        n : float
        """
        self._progress.advance(handle, n)

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()
