"""SigV4 request authentication (spec 12): presence checks by default, full verification with a key table."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from shardstream.errors import ERRORS, AccessDeniedException
from shardstream.server import auth, resources
from shardstream.testing import boto3_client, start_server

JSON = "application/x-amz-json-1.1"
TARGET = "Kinesis_20131202."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
KEYS = {
    "keys": {
        "AKIDADMIN": {"secret": "admin-secret", "actions": "*", "streams": "*"},
        "AKIDWRITER": {
            "secret": "writer-secret",
            "actions": ["PutRecord", "PutRecords", "ListStreams", "DescribeStreamSummary"],
            "streams": ["allowed"],
        },
    },
    "clock_skew_s": 300,
}


def client(url, akid, secret, region="us-east-1"):
    return boto3.session.Session().client(
        "kinesis",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    )


def error_of(excinfo) -> tuple[int, str, str]:
    resp = excinfo.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"], resp["Error"].get("Message")


def raw(url, operation, params, headers=None, *, query="", body=None):
    data = json.dumps(params).encode() if body is None else body
    req = urllib.request.Request(url + "/" + query, data=data, method="POST")
    for k, v in {"Content-Type": JSON, "X-Amz-Target": TARGET + operation, **(headers or {})}.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            out = resp.read()
            return resp.status, (json.loads(out) if out else None)
    except urllib.error.HTTPError as err:
        with err:
            out = err.read()
            return err.code, (json.loads(out) if out else None)


def signed(url, operation, params, akid, secret, *, region="us-east-1", when=None, monkeypatch=None, body=None):
    """Headers botocore's SigV4Auth computes for a request (optionally at a fake time)."""
    data = json.dumps(params).encode() if body is None else body
    headers = {"Content-Type": JSON, "X-Amz-Target": TARGET + operation}
    request = AWSRequest(method="POST", url=url + "/", data=data, headers=headers)
    if when is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
    SigV4Auth(Credentials(akid, secret), "kinesis", region).add_auth(request)
    if when is not None:
        monkeypatch.undo()
    return dict(request.headers.items())


@pytest.fixture(scope="module")
def open_server():
    with start_server() as handle:
        yield handle


@pytest.fixture(scope="module")
def verify_server():
    with start_server(auth=KEYS) as handle:
        handle.engine.create_stream("allowed", 1)
        handle.engine.create_stream("secret", 1)
        yield handle


# -- default mode: presence / format only (kinesalite) -----------------------------------


def test_error_types_are_registered():
    for name in (
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
    ):
        assert ERRORS[name] is getattr(auth, name) and ERRORS[name].http_status == 400


def test_default_mode_accepts_boto3_with_any_key(open_server):
    kinesis = boto3_client(open_server.url)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    assert kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k")["ShardId"] == "shardId-000000000000"
    other = client(open_server.url, "ANYTHING", "whatever")
    assert "s" in other.list_streams()["StreamNames"]
    # another region is another engine (see test_regions.py), but any key is fine there too
    assert client(open_server.url, "ANYTHING", "whatever", region="eu-west-1").list_streams()["StreamNames"] == []


def test_default_mode_rejects_unsigned(open_server):
    assert raw(open_server.url, "ListStreams", {}) == (
        400,
        {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"},
    )


def test_auth_is_checked_after_body_and_target(open_server):
    # kinesalite order (spec 2.5): empty body / unknown operation win over missing auth
    assert raw(open_server.url, "ListStreams", {}, body=b"")[1] == {"__type": "SerializationException"}
    assert raw(open_server.url, "NoSuchOp", {})[1] == {"__type": "UnknownOperationException"}


def test_default_mode_rejects_malformed_header(open_server):
    bad = "AWS4-HMAC-SHA256 Foo=bar"
    status, body = raw(open_server.url, "ListStreams", {}, {"Authorization": bad})
    assert status == 400 and body == {
        "__type": "IncompleteSignatureException",
        "message": "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={bad}",
    }
    partial = "AWS4-HMAC-SHA256 Credential=a/b/c/kinesis/aws4_request, SignedHeaders=host"
    status, body = raw(open_server.url, "ListStreams", {}, {"Authorization": partial, "X-Amz-Date": "20240101T000000Z"})
    assert body["message"] == f"Authorization header requires 'Signature' parameter. Authorization={partial}"


def test_default_mode_query_forms(open_server):
    status, body = raw(open_server.url, "ListStreams", {}, query="?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=x")
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    assert body["message"] == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters."
    )
    status, body = raw(
        open_server.url, "ListStreams", {}, {"Authorization": "x"}, query="?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    )
    assert body == {
        "__type": "InvalidSignatureException",
        "message": "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    }
    full = "?X-Amz-Algorithm=A&X-Amz-Credential=k%2Fd&X-Amz-Signature=s&X-Amz-SignedHeaders=host&X-Amz-Date=d"
    status, body = raw(open_server.url, "ListStreams", {}, query=full)
    assert status == 200 and "StreamNames" in body


@pytest.mark.parametrize("query", ["?X-Amz-Algorithm", "?X-Amz-Algorithm=", "?X-Amz-Algorithm=&X-Amz-Date="])
def test_empty_query_parameters_count_as_missing(open_server, query):
    status, body = raw(open_server.url, "ListStreams", {}, query=query)
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    assert body["message"] == (
        "AWS query-string parameters must include 'X-Amz-Algorithm'. "
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "AWS query-string parameters must include 'X-Amz-Date'. "
        "Re-examine the query-string parameters."
    )
    partial = "?X-Amz-Algorithm=A&X-Amz-Credential=&X-Amz-Signature=s&X-Amz-SignedHeaders=host&X-Amz-Date=d"
    status, body = raw(open_server.url, "ListStreams", {}, query=partial)
    assert body["message"] == (
        "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the query-string parameters."
    )


def test_off_mode_checks_nothing():
    with start_server(auth="off") as srv:
        status, body = raw(srv.url, "ListStreams", {})
        assert status == 200 and body["StreamNames"] == []


# -- verify mode: a key table -------------------------------------------------------------


def test_verify_accepts_the_right_key(verify_server):
    admin = client(verify_server.url, "AKIDADMIN", "admin-secret")
    admin.create_stream(StreamName="made", ShardCount=1)
    assert admin.put_record(StreamName="made", Data=b"x", PartitionKey="k")["SequenceNumber"]
    assert (
        raw(
            verify_server.url,
            "ListStreams",
            {},
            signed(verify_server.url, "ListStreams", {}, "AKIDADMIN", "admin-secret"),
        )[0]
        == 200
    )


def test_verify_rejects_wrong_secret(verify_server):
    with pytest.raises(ClientError) as exc:
        client(verify_server.url, "AKIDADMIN", "not-the-secret").list_streams()
    assert error_of(exc) == (400, "InvalidSignatureException", MISMATCH)


def test_verify_rejects_unknown_key(verify_server):
    with pytest.raises(ClientError) as exc:
        boto3_client(verify_server.url).list_streams()  # AKIDEXAMPLE is not in the table
    assert error_of(exc) == (
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_verify_rejects_tampering(verify_server):
    headers = signed(
        verify_server.url,
        "PutRecord",
        {"StreamName": "allowed", "Data": "eA==", "PartitionKey": "k"},
        "AKIDADMIN",
        "admin-secret",
    )
    status, body = raw(
        verify_server.url, "PutRecord", {"StreamName": "secret", "Data": "eA==", "PartitionKey": "k"}, headers
    )
    assert (status, body) == (400, {"__type": "InvalidSignatureException", "message": MISMATCH})
    headers["X-Amz-Target"] = TARGET + "DeleteStream"  # a signed header changed
    status, body = raw(verify_server.url, "DeleteStream", {"StreamName": "allowed"}, headers)
    assert body["__type"] == "InvalidSignatureException"


def test_verify_rejects_expired_and_future_dates(verify_server, monkeypatch):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    headers = signed(
        verify_server.url, "ListStreams", {}, "AKIDADMIN", "admin-secret", when=old, monkeypatch=monkeypatch
    )
    status, body = raw(verify_server.url, "ListStreams", {}, headers)
    assert status == 400 and body["__type"] == "InvalidSignatureException"
    stamp = old.strftime("%Y%m%dT%H%M%SZ")
    assert body["message"].startswith(f"Signature expired: {stamp} is now earlier than ")
    assert body["message"].endswith(" - 5 min.)")
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    headers = signed(
        verify_server.url, "ListStreams", {}, "AKIDADMIN", "admin-secret", when=future, monkeypatch=monkeypatch
    )
    status, body = raw(verify_server.url, "ListStreams", {}, headers)
    assert body["message"].startswith(f"Signature not yet current: {future.strftime('%Y%m%dT%H%M%SZ')} is still later")


def test_verify_accepts_other_regions_and_rejects_malformed_ones(verify_server):
    # each region has its own engine: a signature scoped to eu-west-1 is valid there
    assert (
        client(verify_server.url, "AKIDADMIN", "admin-secret", region="eu-west-1").list_streams()["StreamNames"] == []
    )
    headers = signed(verify_server.url, "ListStreams", {}, "AKIDADMIN", "admin-secret", region="mars")
    status, body = raw(verify_server.url, "ListStreams", {}, headers)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    assert body["message"] == "Credential should be scoped to a valid region, not 'mars'. "


def test_verify_limits_actions_and_streams(verify_server):
    writer = client(verify_server.url, "AKIDWRITER", "writer-secret")
    assert writer.put_record(StreamName="allowed", Data=b"x", PartitionKey="k")["ShardId"]
    assert "allowed" in writer.list_streams()["StreamNames"]
    with pytest.raises(ClientError) as exc:
        writer.put_record(StreamName="secret", Data=b"x", PartitionKey="k")
    assert error_of(exc) == (
        400,
        "AccessDeniedException",
        "User: arn:aws:iam::000000000000:user/AKIDWRITER is not authorized to perform: kinesis:PutRecord "
        "on resource: arn:aws:kinesis:us-east-1:000000000000:stream/secret "
        "because no identity-based policy allows the kinesis:PutRecord action",
    )
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/secret"
    with pytest.raises(ClientError) as exc:
        writer.describe_stream_summary(StreamARN=arn)
    assert error_of(exc)[2].endswith(
        f"kinesis:DescribeStreamSummary on resource: {arn} "
        "because no identity-based policy allows the kinesis:DescribeStreamSummary action"
    )
    with pytest.raises(ClientError) as exc:
        writer.delete_stream(StreamName="allowed")
    assert error_of(exc)[1:] == (
        "AccessDeniedException",
        "User: arn:aws:iam::000000000000:user/AKIDWRITER is not authorized to perform: kinesis:DeleteStream "
        "on resource: arn:aws:kinesis:us-east-1:000000000000:stream/allowed "
        "because no identity-based policy allows the kinesis:DeleteStream action",
    )
    assert "allowed" in verify_server.engine.list_streams()["StreamNames"]


class KeepBodyQueryAuth(SigV4QueryAuth):
    """botocore's presigner moves a body into the query string; Kinesis's JSON body stays a body (and is hashed)."""

    def _modify_request_before_signing(self, request):
        data = request.data
        super()._modify_request_before_signing(request)
        request.data = data


def test_verify_presigned_query(verify_server):
    body = b"{}"
    request = AWSRequest(
        method="POST",
        url=verify_server.url + "/",
        data=body,
        headers={"Content-Type": JSON, "X-Amz-Target": TARGET + "ListStreams"},
    )
    KeepBodyQueryAuth(Credentials("AKIDADMIN", "admin-secret"), "kinesis", "us-east-1", expires=60).add_auth(request)
    query = "?" + request.url.split("?", 1)[1]
    assert raw(verify_server.url, "ListStreams", {}, query=query, body=body)[0] == 200
    bad = query.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert raw(verify_server.url, "ListStreams", {}, query=bad, body=body)[1]["__type"] == "InvalidSignatureException"


def test_auth_file_and_config_validation(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"keys": {"AKIDFILE": {"secret": "file-secret", "actions": ["ListStreams"]}}}))
    with start_server(auth=str(path)) as srv:
        assert client(srv.url, "AKIDFILE", "file-secret").list_streams()["StreamNames"] == []
        with pytest.raises(ClientError) as exc:
            client(srv.url, "AKIDFILE", "file-secret").create_stream(StreamName="n", ShardCount=1)
        assert error_of(exc)[1] == "AccessDeniedException"
    for bad in (
        {},
        {"keys": {"A": {}}},
        {"keys": {"A": {"secret": "s", "streams": "x"}}},
        {"keys": {}, "clock_skew_s": -1},
    ):
        with pytest.raises(ValueError):
            auth.AuthConfig.from_dict(bad)
    assert "secret" not in repr(auth.AuthConfig.from_dict(KEYS)).replace("secret=***", "")


def test_authenticator_unit_clock_skew():
    config = auth.AuthConfig.from_dict({"keys": {"K": {"secret": "s"}}, "clock_skew_s": 60})
    url = "http://h:1"
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    request = AWSRequest(method="POST", url=url + "/", data=b"{}", headers={"Content-Type": JSON})
    mp = pytest.MonkeyPatch()
    mp.setattr(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
    SigV4Auth(Credentials("K", "s"), "kinesis", "us-east-1").add_auth(request)
    mp.undo()
    from multidict import CIMultiDict

    headers = CIMultiDict({**request.headers, "Host": "h:1"})
    t0 = when.timestamp()
    authenticate = auth.Authenticator("verify", config, clock=lambda: t0 + 59).authenticate
    identity = authenticate("POST", "/", headers, b"{}")
    assert (identity.access_key, identity.region, identity.restricted) == ("K", "us-east-1", False)
    late = auth.Authenticator("verify", config, clock=lambda: t0 + 61)
    with pytest.raises(auth.InvalidSignatureException, match=r"\(20240101T000101Z - 1 min\.\)$"):
        late.authenticate("POST", "/", headers, b"{}")
    limited = auth.Authenticator(
        "verify", auth.AuthConfig.from_dict({"keys": {"K": {"secret": "s", "actions": []}}}), clock=lambda: t0
    )
    identity = limited.authenticate("POST", "/", headers, b"{}")
    with pytest.raises(
        AccessDeniedException,
        match=r"on resource: arn:aws:kinesis:us-east-1:000000000000:\* because no identity-based policy allows",
    ):
        limited.authorize(identity, "ListStreams", resources.Target())


def test_serve_auth_option(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    from click.testing import CliRunner

    from shardstream.serve import serve

    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": 1}')
    result = CliRunner().invoke(serve, ["--auth", str(bad), "--port", "0"])
    assert result.exit_code != 0 and "--auth" in result.output

    good = tmp_path / "auth.json"
    good.write_text(json.dumps(KEYS))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "from shardstream.cli import main; main()"
    cmd = [sys.executable, "-c", code, "serve", "--port", str(port), "--auth", str(good)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert "verifying signatures for 2 key(s)" in line, line
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                assert client(url, "AKIDADMIN", "admin-secret").list_streams()["StreamNames"] == []
                break
            except Exception:  # not listening yet
                time.sleep(0.1)
        else:
            pytest.fail("server did not answer")
        with pytest.raises(ClientError) as exc:
            boto3_client(url).list_streams()
        assert error_of(exc)[1] == "UnrecognizedClientException"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
