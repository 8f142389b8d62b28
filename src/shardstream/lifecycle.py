"""The status of a registered resource (a stream consumer, a queue) and its timed transitions.

Enhanced fan-out consumers and queues move through the same states: CREATING
(or UPDATING) until a deadline on the engine's clock, then ACTIVE; DELETING
until a deadline, then gone.  :class:`Lifecycle` keeps that state for its
owner, which calls it under its own lock.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Lifecycle"]

_SETTLING = ("CREATING", "UPDATING")


class Lifecycle:
    """A status that settles to ACTIVE (or gone, once DELETING) at a deadline on the engine's clock.

    Parameters
    ----------
    now_ms : callable
        The engine's clock (milliseconds since the epoch).
    status : {"CREATING", "ACTIVE", "UPDATING", "DELETING"}
    until_ms : int
        When the current transition ends.

    Examples
    --------
    >>> clock = [0]
    >>> life = Lifecycle(lambda: clock[0], "CREATING", 100)
    >>> life.status
    'CREATING'
    >>> clock[0] = 100
    >>> life.status
    'ACTIVE'
    """

    __slots__ = ("_now_ms", "_status", "until_ms")

    def __init__(self, now_ms: Callable[[], int], status: str, until_ms: int):
        self._now_ms = now_ms
        self._status = status
        self.until_ms = until_ms

    @classmethod
    def created(cls, now_ms: Callable[[], int], created_ms: int, delay_ms: int) -> Lifecycle:
        """CREATING until ``created_ms + delay_ms`` (ACTIVE at once without a delay).

        Parameters
        ----------
        now_ms : callable
        created_ms, delay_ms : int

        Returns
        -------
        Lifecycle
        """
        return cls(now_ms, "CREATING" if delay_ms else "ACTIVE", created_ms + delay_ms)

    @property
    def status(self) -> str:
        """The status now: a CREATING or UPDATING transition past its deadline reads ACTIVE."""
        if self._status in _SETTLING and self._now_ms() >= self.until_ms:
            self._status = "ACTIVE"
        return self._status

    @property
    def deleting(self) -> bool:
        """Whether DELETING was entered (gone or not yet)."""
        return self._status == "DELETING"

    @property
    def gone(self) -> bool:
        """DELETING and past its deadline."""
        return self._status == "DELETING" and self._now_ms() >= self.until_ms

    def mark_deleting(self, until_ms: int) -> bool:
        """Enter DELETING, gone at ``until_ms`` (idempotent: an earlier call's deadline stands).

        Parameters
        ----------
        until_ms : int

        Returns
        -------
        bool
            Whether this call entered DELETING.
        """
        if self._status == "DELETING":
            return False
        self._status = "DELETING"
        self.until_ms = until_ms
        return True

    def mark_updating(self, until_ms: int) -> None:
        """UPDATING until ``until_ms`` (nothing when that is not in the future).

        Parameters
        ----------
        until_ms : int
        """
        if until_ms > self._now_ms():
            self._status = "UPDATING"
            self.until_ms = until_ms

    def to_doc(self) -> dict:
        """``{"status", "status_until_ms"}`` as kept in a data directory (the raw state, not settled)."""
        return {"status": self._status, "status_until_ms": self.until_ms}
