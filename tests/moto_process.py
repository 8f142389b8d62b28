"""moto's server (the stand-in for AWS: Kinesis, DynamoDB, ...) as a real child process on loopback.

``python -m moto.server -H 127.0.0.1 -p 0`` picks a free port and says which on stderr; the
server's log goes to a file (it logs every request, which would fill a pipe).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class MotoProcess:
    """``moto_server`` in a child process; a context manager that waits until it listens."""

    def __init__(self, timeout: float = 20.0):
        self.timeout = timeout
        self._log_dir = tempfile.TemporaryDirectory(prefix="moto-")
        self.log = Path(self._log_dir.name) / "moto.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.url = ""

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                self.url = found.group(1)
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"moto_server exited ({self.proc.returncode}): {self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"moto_server did not start within {self.timeout} s: {self.log.read_text()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log_file.close()
        self._log_dir.cleanup()

    def __enter__(self) -> MotoProcess:
        try:
            self._wait()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()
