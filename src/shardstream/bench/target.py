"""What a ``shardstream bench`` run measures: an engine behind a URL, or a ``shardstream serve`` child.

:func:`open_target` turns ``--url`` into a :class:`Target`: ``memory://`` and
``file:///dir`` give an embedded engine, ``http(s)://...`` and ``aws://...`` a
:class:`~shardstream.RemoteEngine`, and ``serve`` starts ``shardstream serve``
in a child process on a free loopback port (:class:`ServeChild`) and connects
to it.  Closing the target closes the engine and stops the child.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

__all__ = ["ServeChild", "Target", "open_target"]


class ServeChild:
    """``python -m shardstream serve`` in a child process on a free loopback port.

    Parameters
    ----------
    timeout : float
        Seconds to wait for it to listen, and to stop.
    """

    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stderr = tempfile.TemporaryFile()  # not a pipe: nobody reads it while the run goes on
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "shardstream", "serve", "--port", str(self.port), "--log-level", "error"],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_listening(self) -> None:
        """Return once the port accepts connections.

        Raises
        ------
        RuntimeError
            The child exited, or did not listen within ``timeout``.
        """
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace").strip()
                raise RuntimeError(f"shardstream serve exited ({self._proc.returncode}): {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"shardstream serve did not listen on port {self.port} within {self.timeout} s")

    def stop(self) -> None:
        """Stop the child: Ctrl-C (SIGINT), then SIGKILL if it has not exited within ``timeout``."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()


class Target:
    """An engine to benchmark, and how to describe and close it.

    Parameters
    ----------
    engine : Engine or RemoteEngine
    url : str
        The URL the engine answers at (``serve``: the child's ``http://`` URL).
    kind : {"embedded", "server", "remote"}
        embedded: in this process; server: a ``shardstream serve`` child
        started for the run; remote: any other endpoint.
    child : ServeChild, optional
        Stopped on :meth:`close`.
    """

    def __init__(self, engine, url: str, kind: str, child: ServeChild | None = None):
        self.engine = engine
        self.url = url
        self.kind = kind
        self._child = child

    @property
    def embedded(self) -> bool:
        """Whether the engine runs in this process."""
        return self.kind == "embedded"

    def close(self) -> None:
        """Close the engine, then stop the child server if there is one."""
        try:
            self.engine.close()
        finally:
            if self._child is not None:
                self._child.stop()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_target(url: str, connections: int = 10) -> Target:
    """The :class:`Target` for ``--url``.

    Parameters
    ----------
    url : str
        ``memory://``, ``file:///dir``, ``http(s)://host:port``, ``aws://region`` or ``serve``.
    connections : int
        For a remote engine: HTTP connections its client keeps (one per thread
        calling at once, a SubscribeToShard subscriber holding one throughout).

    Returns
    -------
    Target

    Raises
    ------
    ValueError
        An unsupported URL.
    RuntimeError
        The ``serve`` child did not start.
    """
    from ..client import connect

    if url == "serve":
        child = ServeChild()
        try:
            child.wait_listening()
            return Target(connect(child.url, retries=2, max_pool_connections=connections), child.url, "server", child)
        except BaseException:
            child.stop()
            raise
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("memory", "file"):
        return Target(connect(url), url, "embedded")
    return Target(connect(url, max_pool_connections=connections), url, "remote")
