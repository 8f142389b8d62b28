"""Child processes of the replication tests: their output collected line by line as it comes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent


class Child:
    """A Python child process whose stdout lines are kept (``lines``) and announced (``wait_for``)."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=HERE.parent,
        )
        self.lines: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, pipe, into: list) -> None:
        for line in pipe:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        """Wait until ``predicate(lines)`` holds (False on time-out or when the child ended without it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.lines):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    return predicate(self.lines)
                self._changed.wait(0.1)  # woken by each line; the timeout notices an exit without output
            return True

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to end, read the rest of its output, close its pipes; the exit status."""
        status = self.proc.wait(timeout)
        for pump in self._pumps:
            pump.join(timeout)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return status

    def kill(self) -> None:
        """SIGKILL, and wait for the process to be gone."""
        self.proc.kill()
        self.wait()

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM; the exit status."""
        self.proc.terminate()
        return self.wait(timeout)


def script(name: str) -> str:
    """The path of a helper script beside this module."""
    return str(HERE / name)


def replicator(source: str, target: str, checkpoint, *extra: str) -> Child:
    """``shardstream replicate SOURCE TARGET --checkpoint FILE --json`` reporting every 0.1 s."""
    return Child(
        "-m",
        "shardstream",
        "replicate",
        source,
        target,
        "--checkpoint",
        str(checkpoint),
        "--json",
        "--interval",
        "0.1",
        *extra,
    )
