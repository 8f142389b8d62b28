"""Writing a stream's rings to disk ahead of its flush interval, on a thread of its own.

Under the ``interval`` and ``none`` policies the engine's maintenance thread
writes (and for ``interval`` syncs) every stream once per
``flush_interval_ms``.  Under steady load that leaves a whole interval of
records in the rings, written in one burst while the putters wait for room:
the writer, not the disk, limits ingest.  An :class:`EagerWriter` lets a
stream hand records to the OS as soon as enough of them piled up: the
putting thread only sets an event (:meth:`EagerWriter.kick`); a thread of the
writer's own writes the rings (what it writes is the stream's business: a
durable stream syncs each pass under ``interval``, sooner than the interval
requires, and never under ``none``) while the putters carry on.  The thread starts on the first kick and ends after
:data:`LINGER_S` without one, so an idle stream costs no thread.
"""

from __future__ import annotations

import logging
import threading

from ..errors import StorageError

__all__ = ["LINGER_S", "EagerWriter"]

_log = logging.getLogger("shardstream.storage")

#: How long the writer thread waits for another kick before it exits.
LINGER_S = 1.0


class EagerWriter:
    """Runs ``write()`` on a background thread whenever it is kicked (coalescing kicks).

    Parameters
    ----------
    write : callable
        Writes what the rings hold beyond the segments; returns False once
        there is nothing left to write for (the stream is gone or closed),
        which stops the thread.  A :class:`~shardstream.errors.StorageError`
        it raises is left to the store (which refuses puts meanwhile) and to
        the maintenance thread (which retries and logs it).
    name : str
        The thread's name.
    """

    def __init__(self, write, name: str = "shardstream-eager-write"):
        self._write = write
        self._name = name
        self._kicked = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Writes run so far (read by tests and benchmarks).
        self.writes = 0

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        with self._lock:
            return self._thread is not None

    def kick(self) -> None:
        """Ask for a write soon (cheap; starts the thread if none runs)."""
        self._kicked.set()
        if self._thread is not None:  # racy read: the thread re-checks the event before it exits
            return
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread = thread
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown: the interval flush (or the close) writes instead
            with self._lock:
                self._thread = None

    def _run(self) -> None:
        while True:
            if not self._kicked.wait(LINGER_S):
                with self._lock:
                    if not self._kicked.is_set():
                        self._thread = None
                        return
                continue
            with self._lock:
                if self._closed:
                    self._thread = None
                    self._idle.notify_all()
                    return
                self._busy = True
                self._kicked.clear()
            try:
                more = self._write()
            except StorageError:
                more = True  # the store keeps the failure and refuses puts; the interval flush retries
            except Exception:  # keep the stream serving; the interval flush still runs
                _log.exception("eager write failed")
                more = True
            with self._lock:
                self.writes += 1
                self._busy = False
                self._idle.notify_all()
                if more is False or self._closed:
                    self._thread = None
                    return

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no write is asked for or running; False if ``timeout`` (seconds) passed first.

        Parameters
        ----------
        timeout : float, optional
            Most seconds to wait (None: no limit).
        """
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._busy and (self._thread is None or not self._kicked.is_set()), timeout
            )

    def close(self) -> None:
        """Stop the thread (after its current write) and start none again."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._kicked.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
