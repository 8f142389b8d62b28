"""Several endpoints behind one remote engine: the current one, and switching when it stops answering.

``connect("http://a:4567,http://b:4567")`` gives a
:class:`~shardstream.RemoteEngine` with one botocore client per endpoint.
Calls go to the current endpoint; when it gives no answer (connection
refused or reset, time-out: :class:`~shardstream.errors.RemoteConnectionError`)
or answers that it is a standby that was not promoted
(``StandbyReplicaException``), the call is tried on the next endpoint, with
a warning logged on ``shardstream.failover`` for each switch.  After a full
round of endpoints without an answer it waits (50 ms, doubling to 1 s) and
goes round again, until ``failover_timeout`` seconds have passed since the
first failure; then the last error is raised.

A call retried on another endpoint may have been applied by the first (a
time-out after the write): writes through several endpoints are at least
once, as any Kinesis retry is.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["SWITCH_ERRORS", "Endpoints", "split_endpoints"]

log = logging.getLogger("shardstream.failover")

#: Error codes that send a call to the next endpoint (besides getting no answer).
SWITCH_ERRORS = frozenset({"StandbyReplicaException"})


def split_endpoints(url: str | None) -> list[str | None]:
    """The endpoints of a comma-separated ``url`` (``[None]`` for None).

    Parameters
    ----------
    url : str or None
    """
    if url is None:
        return [None]
    parts = [p.strip() for p in url.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"no endpoint in {url!r}")
    return parts


class Endpoints:
    """The clients of several endpoints and which one is current.

    Parameters
    ----------
    clients : list
        One botocore client per endpoint, in order of preference.
    failover_timeout : float
        Seconds a call keeps trying the endpoints after its first failure.
    """

    def __init__(self, clients: list, failover_timeout: float = 30.0):
        self.clients = list(clients)
        self.failover_timeout = failover_timeout
        self._lock = threading.Lock()
        self._current = 0
        #: How many times calls moved to another endpoint.
        self.switches = 0

    @property
    def current(self) -> int:
        """The index of the endpoint calls go to."""
        return self._current

    @property
    def client(self):
        """The current endpoint's client."""
        return self.clients[self._current]

    def call(self, attempt, is_switch_error):
        """``attempt(index)`` on the current endpoint, moving to the next ones while they fail.

        Parameters
        ----------
        attempt : callable
            Makes the call on the endpoint of the given index.
        is_switch_error : callable
            True for an exception that means "try another endpoint".
        """
        if len(self.clients) == 1:
            return attempt(0)
        deadline, pause, tried = None, 0.05, 0
        while True:
            index = self._current
            try:
                return attempt(index)
            except Exception as exc:
                if not is_switch_error(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self.failover_timeout
                if now > deadline:
                    raise
                self._switch(index, exc)
                tried += 1
                if tried % len(self.clients) == 0:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)

    def _switch(self, index: int, exc: BaseException) -> None:
        with self._lock:
            if self._current != index:  # another thread switched already
                return
            self._current = (index + 1) % len(self.clients)
            self.switches += 1
            old, new = self.clients[index].meta.endpoint_url, self.clients[self._current].meta.endpoint_url
        log.warning("endpoint %s failed (%s): switching to %s", old, type(exc).__name__, new)
