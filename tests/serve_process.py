"""Run ``python -m shardstream serve ...`` as a real child process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``shardstream serve`` in a child process.

    Use as a context manager: entering waits until the port accepts
    connections; leaving kills the server if it is still running.
    """

    def __init__(
        self, *args: str, port: int | None = None, timeout: float = 8.0, python_args: tuple = ("-m", "shardstream")
    ):
        self.port = free_port() if port is None else port
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [sys.executable, *python_args, "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def wait_listening(self) -> ServeProcess:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early ({self.proc.returncode}): {self.proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"server did not listen on {self.port} within {self.timeout} s")

    def interrupt(self) -> tuple[str, str]:
        """Ctrl-C (SIGINT): a graceful stop; returns (stdout, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.communicate(timeout=self.timeout)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash."""
        self.proc.kill()
        self.proc.communicate()

    def __enter__(self) -> ServeProcess:
        try:
            return self.wait_listening()
        except BaseException:
            self.kill()
            raise

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.kill()
