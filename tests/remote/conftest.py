"""Fixtures for the remote backends: an isolated AWS configuration, moto's Kinesis server, a flaky proxy."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from urllib.parse import urlsplit

import pytest

import shardstream
from shardstream.testing import start_server


class AwsConfig:
    """An AWS configuration in ``tmp_path``: no credentials until a test writes some."""

    def __init__(self, tmp_path, monkeypatch):
        self.config = tmp_path / "aws-config"
        self.credentials = tmp_path / "aws-credentials"
        self.config.write_text("")
        self.credentials.write_text("")
        self._monkeypatch = monkeypatch

    def profile(self, name: str, key: str, secret: str, token: str | None = None, region: str | None = None):
        """Add a profile with these keys (and session token, region) to the files."""
        with self.credentials.open("a") as f:
            f.write(f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
            if token:
                f.write(f"aws_session_token = {token}\n")
        if region:
            section = "default" if name == "default" else f"profile {name}"
            with self.config.open("a") as f:
                f.write(f"[{section}]\nregion = {region}\n")

    def setenv(self, name: str, value: str) -> None:
        """Set one environment variable for the test."""
        self._monkeypatch.setenv(name, value)


@pytest.fixture
def aws(tmp_path, monkeypatch):
    """No AWS settings from the machine: every ``AWS_*`` variable cleared, the config files in tmp_path,
    and no instance-metadata look-ups (nothing leaves loopback)."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config = AwsConfig(tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config.credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config


@pytest.fixture(scope="session")
def moto_url():
    """moto's server (all services, Kinesis among them) on a free loopback port."""
    from moto.server import ThreadedMotoServer  # here: importing moto adds a hook to every botocore session

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def eu_server():
    """A shardstream server whose engine is eu-west-1's (the region the aws:// tests sign for)."""
    with start_server(shardstream.Engine(region="eu-west-1")) as handle:
        yield handle


class FlakyProxy:
    """An HTTP proxy in front of ``target`` that answers the first ``failures`` requests itself.

    Each failure is ``(status, error_type)``: a Kinesis JSON error body with that status.
    ``requests`` counts every request it got.
    """

    def __init__(self, target: str, failures: list[tuple[int, str]]):
        self.failures = list(failures)
        self.requests = 0
        self._lock = threading.Lock()
        netloc = urlsplit(target).netloc
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                failure = proxy.next_failure()
                if failure is not None:
                    status, error_type = failure
                    payload = json.dumps({"__type": error_type, "message": "injected"}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def next_failure(self):
        """Count a request; the failure to answer it with, or None to forward it."""
        with self._lock:
            self.requests += 1
            return self.failures.pop(0) if self.failures else None

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@pytest.fixture
def flaky(server_for_proxy):
    """Make a :class:`FlakyProxy` in front of a shardstream server: ``flaky(failures)``."""
    proxies = []

    def make(failures):
        proxy = FlakyProxy(server_for_proxy.url, failures)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def server_for_proxy():
    """A shardstream server for the flaky proxy to forward to."""
    with start_server() as handle:
        yield handle


@pytest.fixture
def server():
    """A shardstream server (us-east-1, the region a non-AWS endpoint is signed for by default)."""
    with start_server() as handle:
        yield handle
