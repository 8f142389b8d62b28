"""A clock a test moves by hand, whose moves wake whatever waits on the engine's time.

``Engine(clock=...)`` takes any callable returning ms since the epoch.  With a
plain callable, waits measured on the engine's clock (a queue's long poll
waiting for an in-flight record's visibility timeout) only notice a change of
time when they look again.  A :class:`ManualClock` tells the engines using it
each time it moves, so those waits end at once, with no polling and no real
waiting for simulated time.

Examples
--------
>>> from shardstream import Engine
>>> from shardstream.testing import ManualClock
>>> clock = ManualClock(start_ms=1_700_000_000_000)
>>> engine = Engine(clock=clock)
>>> clock.advance(seconds=30)
1700000030000
>>> engine.catalog.now_ms()
1700000030000
"""

from __future__ import annotations

import threading
import time
import weakref

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that moves only when told to; each move wakes the engines' waits on time.

    Parameters
    ----------
    start_ms : int, optional
        The starting time, ms since the epoch (default: the system's time now).

    Attributes
    ----------
    now : int
        The current time, ms since the epoch.
    """

    def __init__(self, start_ms: int | None = None):
        self.now = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._lock = threading.Lock()
        self._listeners: list[weakref.WeakMethod] = []

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int = 0, *, seconds: float = 0) -> int:
        """Move forward by ``ms`` plus ``seconds``; returns the new time.

        Parameters
        ----------
        ms : int
        seconds : float
        """
        step = int(ms) + round(seconds * 1000)
        if step < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self.now += step
            now = self.now
        self._moved()
        return now

    def subscribe(self, callback) -> None:
        """Call ``callback()`` after every move (held weakly: a bound method of an object that may go away).

        Parameters
        ----------
        callback : bound method
        """
        with self._lock:
            self._listeners.append(weakref.WeakMethod(callback))

    def _moved(self) -> None:
        with self._lock:
            self._listeners = [ref for ref in self._listeners if ref() is not None]
            callbacks = [ref() for ref in self._listeners]
        for callback in callbacks:
            if callback is not None:
                callback()

    def __repr__(self) -> str:
        return f"<ManualClock now={self.now}>"
