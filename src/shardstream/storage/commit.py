"""Group commit: one flush and ``fsync`` answers every writer that waited for it.

:class:`GroupCommit` is a part of :class:`~.store.StreamStore`
(``store.committer``; the store publishes ``commit`` and ``commit_async``).
Writers that call :meth:`GroupCommit.commit` while a flush runs wait for the
next one, which covers them all; :meth:`GroupCommit.commit_async` never waits:
a committer thread runs the flushes and calls each writer back.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["COMMITTER_LINGER_S", "GroupCommit"]

_log = logging.getLogger("shardstream.storage")

#: How long an idle committer thread waits for more commit_async callbacks before it exits.
COMMITTER_LINGER_S = 0.5


def _fire(callbacks, exc) -> None:
    for callback in callbacks:
        try:
            callback(exc)
        except Exception:  # a caller's bug must not stop the others' answers
            _log.exception("commit callback failed")


class GroupCommit:
    """Flush generations shared by concurrent writers.

    Parameters
    ----------
    flush : callable
        ``flush(logs, now_ms)`` flushes and syncs the stream's rings (or, if
        that fails, discards what was not synced) and returns the
        :class:`~shardstream.errors.StorageError` or None.
    """

    def __init__(self, flush):
        self._flush = flush
        lock = threading.Lock()
        self._commit = threading.Condition(lock)
        self._work = threading.Condition(lock)  # wakes the committer thread
        self._waiters: list = []  # commit_async: (generation that covers it, callback)
        self._source = None  # commit_async: (logs function, clock) of the newest caller
        self._committer = False  # a committer thread is running
        self._started = 0  # flush generations begun by commit() ...
        self._done = 0  # ... and completed
        self._flushing = False

    def commit(self, logs, clock) -> None:
        """Return once every record appended before the call is on disk or discarded (group commit).

        A flush that fails discards every record not yet ``fsync``-ed
        (:meth:`StreamStore.discard_unsynced`); the writers whose records those
        were find them in :meth:`StreamStore.lost` (check it when
        :attr:`StreamStore.rollbacks` changed since the put).  Never raises for
        a failed write.

        Parameters
        ----------
        logs : list of ShardLog
        clock : callable
            Returns the current time in ms.
        """
        ready = None
        with self._commit:
            # A flush that starts after this point covers our records; one
            # already running may not.
            target = self._started + 1
            while self._done < target:
                if self._flushing:
                    self._commit.wait()
                    continue
                self._flushing = True
                self._started += 1
                generation = self._started
                self._commit.release()
                ok = False
                failure = None
                try:
                    failure = self._flush(logs, clock())
                    ok = True
                finally:
                    self._commit.acquire()
                    self._flushing = False
                    if ok:
                        self._done = generation
                        ready = self._take_waiters(generation)
                    self._commit.notify_all()
        if ready:
            _fire(ready, failure)

    def commit_async(self, logs_fn, clock, callback) -> None:
        """Call ``callback(None)`` once every record appended before this call is on disk.

        Never waits for a flush: the flush that covers the records (run by a
        writer in :meth:`commit` or by the store's committer thread) calls
        ``callback``, from its own thread; ``callback(exc)`` if that flush
        failed (a :class:`StorageError`: the records were then discarded
        unless an earlier flush had covered them, see :meth:`StreamStore.lost`).
        ``callback`` must be quick and must not raise.

        Parameters
        ----------
        logs_fn : callable
            Returns the stream's rings (called when the flush starts: shards
            may have been added meanwhile).
        clock : callable
            Returns the current time in ms.
        callback : callable
        """
        with self._commit:
            self._waiters.append((self._started + 1, callback))
            self._source = (logs_fn, clock)
            if self._committer:
                self._work.notify()
                return
            self._committer = True
        try:
            threading.Thread(target=self._run_committer, name="shardstream-commit", daemon=True).start()
        except BaseException as exc:  # no thread (interpreter shutdown): nobody else would answer
            with self._commit:
                self._committer = False
                ready, self._waiters = self._waiters, []
            _fire(ready, exc)

    def _take_waiters(self, generation: int) -> list:
        """Remove and return the commit_async callbacks that flush ``generation`` covered (lock held)."""
        if not self._waiters:
            return []
        ready = [cb for target, cb in self._waiters if target <= generation]
        if ready:
            self._waiters = [w for w in self._waiters if w[0] > generation]
        return ready

    def _run_committer(self) -> None:
        """The committer thread: runs group commits while commit_async callbacks wait."""
        while True:
            with self._commit:
                if not self._waiters:
                    self._work.wait(COMMITTER_LINGER_S)
                    if not self._waiters:
                        self._committer = False
                        return
                logs_fn, clock = self._source
                target = max(t for t, _ in self._waiters)
            try:
                self.commit(logs_fn(), clock)
            except BaseException as exc:  # the flush failed: tell those it was to cover
                with self._commit:
                    failed = self._take_waiters(target)
                _fire(failed, exc)
