"""The latency readers of one read path, together: started, waited for, drained and stopped as one.

:class:`ReaderSet` owns a :class:`~shardstream.bench.latency.LatencyRecorder`
and the readers of one path: a :class:`~shardstream.bench.readers.PollingReader`,
or a subscriber per shard; :meth:`ReaderSet.start` returns once they read (a
subscriber the endpoint refuses is dropped and the reason kept), and
:meth:`ReaderSet.finish` waits for the samples, stops the readers and gives
a :class:`ReadOutcome`.  It runs in the benchmark's process (embedded engines)
or in a reader process (:mod:`shardstream.bench.reader_process`).
"""

from __future__ import annotations

import dataclasses

from ..engine import Engine
from .latency import LatencyRecorder
from .readers import EmbeddedSubscriber, PollingReader, RemoteSubscriber

__all__ = ["ReadOutcome", "ReaderSet"]

#: Seconds the readers get to start.
READY_TIMEOUT_S = 30.0


@dataclasses.dataclass
class ReadOutcome:
    """What the readers saw.

    Parameters
    ----------
    latencies_ns : dict of str to list of int
        Each path's sample latencies, nanoseconds.
    getrecords_per_s : float
        The polling reader's GetRecords calls a second.
    throttled : int
        Its throttled calls (both 0 for the subscribers).
    unavailable : dict of str to str
        Paths that could not be read, and why.
    sample_ids : dict of str to list of int
        Which sample each of ``latencies_ns`` is.
    """

    latencies_ns: dict[str, list[int]]
    getrecords_per_s: float
    throttled: int
    unavailable: dict[str, str]
    sample_ids: dict[str, list[int]]


def first_line(error: BaseException) -> str:
    """``error`` as one short line (an endpoint's HTML error page cut down).

    Parameters
    ----------
    error : BaseException

    Returns
    -------
    str
    """
    text = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


class ReaderSet:
    """The readers of one read path on a stream: the polling reader, or a subscriber per shard.

    Parameters
    ----------
    engine : Engine or RemoteEngine
    stream : Stream or RemoteStream
    shard_ids : list of str
    path : {"poll", "subscribe"}
        A GetRecords loop, or SubscribeToShard.
    consumer_arn : str or None
        An ACTIVE consumer to subscribe with (for ``subscribe``).
    poll_interval_s : float
        The polling reader's pause after an empty round.
    """

    def __init__(
        self, engine, stream, shard_ids: list[str], path: str, consumer_arn: str | None, poll_interval_s: float
    ):
        self.path = path
        self.recorder = LatencyRecorder([path])
        self._poller = None
        if path == "poll":
            self._poller = PollingReader(stream, shard_ids, self.recorder, poll_interval_s)
            self._readers = [self._poller]
        elif isinstance(engine, Engine):
            self._readers = [EmbeddedSubscriber(engine, consumer_arn, shard_ids, self.recorder)]
        else:  # a RemoteEngine: botocore's event stream
            self._readers = [RemoteSubscriber(engine.client, consumer_arn, shard_ids, self.recorder)]
        self._unavailable: dict[str, str] = {}

    @property
    def available(self) -> bool:
        """Whether the path is being read (False: the endpoint refused it; see ``finish``'s ``unavailable``)."""
        return not self._unavailable

    def start(self) -> None:
        """Start the readers and return once they read (a refused subscriber is dropped, its reason kept).

        Raises
        ------
        TimeoutError
            A reader did not start within 30 s.
        BaseException
            The polling reader's error.
        """
        for reader in self._readers:
            reader.start()
        try:
            for reader in list(self._readers):
                if not reader.ready.wait(READY_TIMEOUT_S):
                    raise TimeoutError(f"a {type(reader).__name__} did not start within {READY_TIMEOUT_S} s")
                if reader.error is None:
                    continue
                if reader is self._poller:
                    raise reader.error
                # an endpoint without SubscribeToShard (moto, ...): the polling reader is timed alone
                self._unavailable[self.path] = first_line(reader.error)
                reader.stop()
                self._readers.remove(reader)
                self.recorder.drop(self.path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every reader."""
        for reader in self._readers:
            reader.stop()

    def finish(self, samples: int, timeout: float) -> ReadOutcome:
        """Wait (at most ``timeout`` seconds) for ``samples`` samples on every path, stop, and report.

        Parameters
        ----------
        samples : int
        timeout : float

        Returns
        -------
        ReadOutcome

        Raises
        ------
        BaseException
            A reader's error.
        """
        try:
            self.recorder.wait_for(samples, timeout)
        finally:
            self.stop()
        for reader in self._readers:
            if reader.error is not None:
                raise reader.error
        poller = self._poller
        seen = {path: self.recorder.samples(path) for path in self.recorder.paths}
        return ReadOutcome(
            {path: latencies.tolist() for path, (_, latencies) in seen.items()},
            poller.calls / max(poller.seconds, 1e-9) if poller else 0.0,
            poller.throttled if poller else 0,
            dict(self._unavailable),
            {path: ids.tolist() for path, (ids, _) in seen.items()},
        )
