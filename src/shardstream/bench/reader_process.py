"""The latency readers in a process of their own, for an engine behind a URL.

In the benchmark's process the readers would share the GIL with the putter
(each botocore call holds it for hundreds of microseconds), and so time the
client's contention rather than the server.  :class:`ReaderProcess` starts a
child (``multiprocessing``'s spawn: nothing inherited) that connects to the
same URL, runs a :class:`~shardstream.bench.reader_set.ReaderSet` and sends
its :class:`~shardstream.bench.reader_set.ReadOutcome` back through a pipe.
``time.perf_counter_ns`` is one clock for every process of the machine, so
the send stamps and arrival times compare.
"""

from __future__ import annotations

import multiprocessing

from .reader_set import READY_TIMEOUT_S, ReaderSet, ReadOutcome

__all__ = ["ReaderProcess"]


def _child(conn, url: str, stream_name: str, shard_ids, path: str, consumer_arn, poll_interval_s: float):
    """The reader process: connect, read, report (runs in the child)."""
    from ..client import connect

    try:
        engine = connect(url, max_pool_connections=len(shard_ids) + 4)
        readers = ReaderSet(engine, engine.stream(stream_name), shard_ids, path, consumer_arn, poll_interval_s)
        readers.start()
    except BaseException as exc:  # noqa: B036 - sent to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", readers.available))
    try:
        samples, timeout = conn.recv()
    except EOFError:  # the parent gave up
        readers.stop()
        engine.close()
        return
    try:
        conn.send(("done", readers.finish(samples, timeout)))
    except BaseException as exc:  # noqa: B036 - as above
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.close()


class ReaderProcess:
    """A :class:`ReaderSet` on ``url`` in a child process, with ReaderSet's ``start`` / ``finish`` / ``stop``.

    Parameters
    ----------
    url : str
        The endpoint (``http(s)://...``; ``aws://...``).
    stream_name : str
    shard_ids : list of str
    path : {"poll", "subscribe"}
    consumer_arn : str or None
    poll_interval_s : float
    """

    def __init__(self, url: str, stream_name: str, shard_ids, path: str, consumer_arn, poll_interval_s: float):
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        args = (child_conn, url, stream_name, list(shard_ids), path, consumer_arn, poll_interval_s)
        self._proc = context.Process(target=_child, args=args, name="shardstream-bench-readers", daemon=True)
        #: Whether the path is being read (set by :meth:`start`; False: the endpoint refused it).
        self.available = False

    def _receive(self, timeout: float, expected: str):
        if not self._conn.poll(timeout):
            raise TimeoutError(f"the reader process did not answer within {timeout} s")
        kind, value = self._conn.recv()
        if kind == "error":
            raise RuntimeError(f"reader process: {value}")
        assert kind == expected, (kind, expected)
        return value

    def start(self) -> None:
        """Start the child and return once its readers read.

        Raises
        ------
        TimeoutError, RuntimeError
            It did not start, or its readers failed.
        """
        self._proc.start()
        try:
            self.available = self._receive(READY_TIMEOUT_S + 30, "ready")  # and the child's imports
        except BaseException:
            self.stop()
            raise

    def finish(self, samples: int, timeout: float) -> ReadOutcome:
        """Have the child wait for ``samples`` samples (at most ``timeout`` s), stop and report; then end it.

        Parameters
        ----------
        samples : int
        timeout : float

        Returns
        -------
        ReadOutcome
        """
        try:
            self._conn.send((samples, timeout))
            return self._receive(timeout + 30, "done")
        finally:
            self.stop()

    def stop(self) -> None:
        """End the child: close the pipe (a child still waiting for ``finish`` then exits); kill it after 10 s."""
        self._conn.close()
        if self._proc.pid is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
