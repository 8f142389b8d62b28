"""moto's server (the stand-in for AWS: Kinesis, DynamoDB, ...) on loopback, answering one request
at a time: in a thread of the test process (:class:`SerialMoto`) or as a child process
(:class:`MotoProcess`, ``python moto_process.py`` prints the URL it serves).

One at a time because moto's backends take no locks: under ``moto_server``'s threads two
conditional writes to one DynamoDB item can both pass their condition, which DynamoDB itself
never lets happen (each item's writes are serialised).  moto's app behind one lock gives the
tests DynamoDB's atomic conditional writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class SerialMoto:
    """moto's server app behind one lock, on a free loopback port, served from a daemon thread."""

    def __init__(self, quiet: bool = True):
        # imported here, not at collection: importing moto adds a hook to every botocore session
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args, **kwargs) -> None:
                """No line per request."""

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serial(environ, start_response):
            with lock:
                return list(app(environ, start_response))

        handler = QuietHandler if quiet else MotoRequestHandler
        self.server = make_server("127.0.0.1", 0, serial, threaded=True, request_handler=handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto", daemon=True)

    def __enter__(self) -> SerialMoto:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class MotoProcess:
    """:class:`SerialMoto` in a child process; a context manager that waits until it listens."""

    def __init__(self, timeout: float = 20.0):
        self.timeout = timeout
        self._log_dir = tempfile.TemporaryDirectory(prefix="moto-")
        self.log = Path(self._log_dir.name) / "moto.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-u", __file__], stdout=self._log_file, stderr=subprocess.STDOUT)
        self.url = ""

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = re.search(r"serving (http://127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                self.url = found.group(1)
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"moto exited ({self.proc.returncode}): {self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"moto did not start within {self.timeout} s: {self.log.read_text()}")

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


if __name__ == "__main__":
    moto = SerialMoto()
    print(f"serving {moto.url}", flush=True)
    moto.server.serve_forever()
