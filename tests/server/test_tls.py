"""HTTPS: ``start_server(tls=...)``, ``boto3_client(verify=...)``, ``connect(..., verify=...)`` and
``shardstream serve --tls-cert/--tls-key``, with a self-signed certificate made on the fly."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import sys
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serve_process import ServeProcess

import shardstream
from shardstream.testing import boto3_client, start_server


@pytest.fixture(scope="module")
def cert_pair(tmp_path_factory):
    """A self-signed certificate (and its key) for 127.0.0.1 and localhost: ``(certfile, keyfile)``."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile = directory / "cert.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(certfile), str(keyfile)


@pytest.fixture
def tls_server(cert_pair):
    with start_server(tls=cert_pair) as handle:
        yield handle


def test_start_server_tls_url(tls_server):
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert tls_server.url.endswith(f":{tls_server.port}")


def test_boto3_round_trip_over_https(tls_server, cert_pair):
    kinesis = boto3_client(tls_server.url, verify=cert_pair[0])
    kinesis.create_stream(StreamName="secure", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="secure", WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    put = kinesis.put_record(StreamName="secure", Data=b"over tls", PartitionKey="k")
    iterator = kinesis.get_shard_iterator(
        StreamName="secure", ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == [b"over tls"]
    assert tls_server.engine.list_streams()["StreamNames"] == ["secure"]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_boto3_verify_false_and_untrusted_cert(tls_server):
    import botocore.exceptions

    assert boto3_client(tls_server.url, verify=False).list_streams()["StreamNames"] == []
    # the default CA bundle does not trust a self-signed certificate
    with pytest.raises(botocore.exceptions.SSLError):
        boto3_client(tls_server.url).list_streams()


def test_plain_http_to_tls_port_fails(tls_server):
    request = urllib.request.Request(
        f"http://127.0.0.1:{tls_server.port}/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.ListStreams"},
        method="POST",
    )
    # the server expects a TLS handshake and drops the connection without an HTTP response
    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # verify=False warns, as asked
def test_connect_https_with_verify(tls_server, cert_pair):
    # each engine closes its pooled keep-alive connection before the server stops
    with shardstream.connect(tls_server.url, verify=cert_pair[0]) as engine:
        stream = engine.create_stream("remote", 1)
        stream.wait_active(timeout=5)
        stream.put_record(b"hello", "k")
        assert engine.list_streams()["StreamNames"] == ["remote"]
    assert tls_server.engine.stream("remote").describe_summary()["StreamDescriptionSummary"]["OpenShardCount"] == 1
    with shardstream.connect(tls_server.url, verify=False) as insecure:
        assert insecure.list_streams()["StreamNames"] == ["remote"]
    with shardstream.connect(tls_server.url, retries=0) as default_cas:
        with pytest.raises(shardstream.errors.RemoteConnectionError) as info:
            default_cas.list_streams()  # default CAs: the self-signed cert is refused
    assert isinstance(info.value, ConnectionError) and info.value.url == tls_server.url
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_cli_serve_tls(cert_pair):
    certfile, keyfile = cert_pair
    with ServeProcess("--tls-cert", certfile, "--tls-key", keyfile) as server:
        kinesis = boto3_client(server.url("https"), verify=certfile)
        assert kinesis.list_streams()["StreamNames"] == []
        kinesis.create_stream(StreamName="cli-tls", ShardCount=1)
        assert kinesis.list_streams()["StreamNames"] == ["cli-tls"]
        out, err = server.interrupt()
    assert server.proc.returncode == 0, err
    assert f"on https://127.0.0.1:{server.port}" in out
    assert "shardstream server stopped." in out


def test_cli_tls_flags_go_together(cert_pair):
    from click.testing import CliRunner

    from shardstream.serve import serve

    runner = CliRunner()
    result = runner.invoke(serve, ["--tls-cert", cert_pair[0], "--port", "0"])
    assert result.exit_code == 2
    assert "--tls-key is missing" in result.output
    result = runner.invoke(serve, ["--tls-key", cert_pair[1], "--port", "0"])
    assert result.exit_code == 2
    assert "--tls-cert is missing" in result.output
    # a key that does not match / is not a key: a clear error, not a traceback
    result = runner.invoke(serve, ["--tls-cert", cert_pair[0], "--tls-key", cert_pair[0], "--port", "0"])
    assert result.exit_code == 1
    assert "--tls-cert" in result.output and "Traceback" not in result.output
