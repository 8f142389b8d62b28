"""Signature checks that prove what their names say (spec 12.2), presigned expiry, and authentication before decoding.

Every near miss of the right signature (empty, truncated, one character off,
one character more) and the right signature of a wrong secret is refused, in
the ``Authorization`` header and in presigned query strings; the right one,
upper-cased, is accepted (hex is compared case-insensitively).  Presigned
requests must name an ``X-Amz-Expires`` of 1 to 604800 seconds and are refused
once it has passed.  With verified signatures the body is not decoded before
the signature is checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import struct
import urllib.error
import urllib.request

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shardstream.server import codec
from shardstream.testing import start_server

JSON = "application/x-amz-json-1.1"
CBOR = "application/x-amz-cbor-1.1"
TARGET = "Kinesis_20131202."
KEYS = {"keys": {"AKIDADMIN": {"secret": "admin-secret"}}, "clock_skew_s": 300}
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
BODY = b"{}"


@pytest.fixture(scope="module")
def url():
    with start_server(auth=KEYS) as srv:
        yield srv.url


def send(url, operation, body, headers, *, query="", content_type=JSON):
    """POST ``body``: (status, error type or None, message or parsed body)."""
    all_headers = {"Content-Type": content_type, "X-Amz-Target": TARGET + operation, **headers}
    req = urllib.request.Request(url + "/" + query, data=body, method="POST", headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, out = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            status, out = err.code, err.read()
    if not out:
        return status, None, None
    parsed = codec.decode_cbor(out) if content_type == CBOR else json.loads(out)
    if "__type" in parsed:
        return status, parsed["__type"], parsed.get("message", parsed.get("Message"))
    return status, None, parsed


@contextlib.contextmanager
def _at(when):
    """Make botocore sign at ``when`` (None: now) inside the block."""
    with pytest.MonkeyPatch.context() as mp:
        if when is not None:
            utc = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
            mp.setattr(botocore.auth, "get_current_datetime", lambda: utc)
        yield


def header_signed(url, operation, body, secret="admin-secret", *, content_type=JSON, when=None) -> dict:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": content_type, "X-Amz-Target": TARGET + operation},
    )
    with _at(when):
        SigV4Auth(Credentials("AKIDADMIN", secret), "kinesis", "us-east-1").add_auth(request)
    return dict(request.headers.items())


class KeepBodyQueryAuth(SigV4QueryAuth):
    """botocore's presigner moves a body into the query string; Kinesis's JSON body stays a body (and is hashed)."""

    def _modify_request_before_signing(self, request):
        data = request.data
        super()._modify_request_before_signing(request)
        request.data = data


def presigned(url, operation, body, secret="admin-secret", *, expires=60, when=None) -> str:
    """The query string of a presigned request."""
    request = AWSRequest(
        method="POST", url=url + "/", data=body, headers={"Content-Type": JSON, "X-Amz-Target": TARGET + operation}
    )
    with _at(when):
        KeepBodyQueryAuth(Credentials("AKIDADMIN", secret), "kinesis", "us-east-1", expires=expires).add_auth(request)
    return "?" + request.url.split("?", 1)[1]


def _flip(c: str) -> str:
    return "1" if c == "0" else "0"


# name -> (the signature sent, given the right one and a wrong secret's)
NEAR_MISSES = {
    "empty": lambda right, wrong: "",
    "first 63 characters": lambda right, wrong: right[:63],
    "first character": lambda right, wrong: right[:1],
    "last character off": lambda right, wrong: right[:-1] + _flip(right[-1]),
    "first character off": lambda right, wrong: _flip(right[0]) + right[1:],
    "one character more": lambda right, wrong: right + "0",
    "twice": lambda right, wrong: right + right,
    "wrong secret": lambda right, wrong: wrong,
    "wrong secret, upper case": lambda right, wrong: wrong.upper(),
    "wrong secret, first 63 characters": lambda right, wrong: wrong[:63],
    "not hex, not ascii": lambda right, wrong: "é" * 64,
}
SIGNATURE_IN_HEADER = re.compile(r"Signature=([0-9a-f]{64})")


def _with_header_signature(headers: dict, sig: str) -> dict:
    out = dict(headers)
    out["Authorization"] = SIGNATURE_IN_HEADER.sub(lambda m: "Signature=" + sig, headers["Authorization"])
    return out


@pytest.mark.parametrize("variant", sorted(NEAR_MISSES))
def test_header_signature_near_misses_are_refused(url, variant):
    right = header_signed(url, "ListStreams", BODY)
    wrong = header_signed(url, "ListStreams", BODY, "not-the-secret")
    right_sig = SIGNATURE_IN_HEADER.search(right["Authorization"]).group(1)
    wrong_sig = SIGNATURE_IN_HEADER.search(wrong["Authorization"]).group(1)
    assert send(url, "ListStreams", BODY, right)[0] == 200  # the request itself is fine
    sent = NEAR_MISSES[variant](right_sig, wrong_sig)
    headers = _with_header_signature(right, sent)
    # the header goes out as UTF-8 text: urllib would refuse non-Latin-1, so send bytes' Latin-1 reading
    headers["Authorization"] = headers["Authorization"].encode("utf-8").decode("latin-1")
    assert send(url, "ListStreams", BODY, headers) == (400, "InvalidSignatureException", MISMATCH)


def test_header_signature_upper_case_is_the_same_hex(url):
    headers = header_signed(url, "ListStreams", BODY)
    sig = SIGNATURE_IN_HEADER.search(headers["Authorization"]).group(1)
    status, error, _ = send(url, "ListStreams", BODY, _with_header_signature(headers, sig.upper()))
    assert (status, error) == (200, None)


def _with_query_signature(query: str, sig: str) -> str:
    from urllib.parse import quote

    return re.sub(r"X-Amz-Signature=[0-9a-f]{64}", lambda m: "X-Amz-Signature=" + quote(sig), query)


@pytest.mark.parametrize("variant", sorted(NEAR_MISSES))
def test_presigned_signature_near_misses_are_refused(url, variant):
    right = presigned(url, "ListStreams", BODY)
    wrong = presigned(url, "ListStreams", BODY, "not-the-secret")
    right_sig = re.search(r"X-Amz-Signature=([0-9a-f]{64})", right).group(1)
    wrong_sig = re.search(r"X-Amz-Signature=([0-9a-f]{64})", wrong).group(1)
    assert send(url, "ListStreams", BODY, {}, query=right)[0] == 200
    sent = NEAR_MISSES[variant](right_sig, wrong_sig)
    got = send(url, "ListStreams", BODY, {}, query=_with_query_signature(right, sent))
    if sent == "":  # an empty query parameter counts as missing (kinesalite)
        assert got == (
            400,
            "IncompleteSignatureException",
            "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters.",
        )
    else:
        assert got == (400, "InvalidSignatureException", MISMATCH)


def test_presigned_signature_upper_case_is_the_same_hex(url):
    query = presigned(url, "ListStreams", BODY)
    sig = re.search(r"X-Amz-Signature=([0-9a-f]{64})", query).group(1)
    assert send(url, "ListStreams", BODY, {}, query=_with_query_signature(query, sig.upper()))[:2] == (200, None)


# -- presigned expiry ------------------------------------------------------------------------

WEEK = 604800


@pytest.mark.parametrize(
    "expires, message",
    [
        ("0", "X-Amz-Expires must be at least 1 (second)."),
        ("-1", "X-Amz-Expires must be non-negative."),
        (str(WEEK + 1), "X-Amz-Expires must be less than a week (in seconds) that is 604800."),
        (str(10**30), "X-Amz-Expires must be less than a week (in seconds) that is 604800."),
        ("9" * 5000, "X-Amz-Expires must be less than a week (in seconds) that is 604800."),
        ("abc", "X-Amz-Expires should be a number, not 'abc'."),
        ("1e3", "X-Amz-Expires should be a number, not '1e3'."),
        ("", "X-Amz-Expires should be a number, not ''."),
    ],
)
def test_presigned_expires_must_be_one_second_to_a_week(url, expires, message):
    query = presigned(url, "ListStreams", BODY, expires=expires)
    assert f"X-Amz-Expires={expires}&" in query
    assert send(url, "ListStreams", BODY, {}, query=query) == (400, "IncompleteSignatureException", message)


def test_presigned_huge_expiry_does_not_revive_an_old_signature(url):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=365 * 30)
    query = presigned(url, "ListStreams", BODY, expires=10**30, when=old)
    status, error, _ = send(url, "ListStreams", BODY, {}, query=query)
    assert (status, error) == (400, "IncompleteSignatureException")
    query = presigned(url, "ListStreams", BODY, expires=WEEK, when=old)
    status, error, message = send(url, "ListStreams", BODY, {}, query=query)
    assert (status, error) == (400, "InvalidSignatureException") and message.startswith("Signature expired: ")


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def test_presigned_requests_expire(url):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert send(url, "ListStreams", BODY, {}, query=presigned(url, "ListStreams", BODY, expires=60))[:2] == (200, None)
    # a lifetime longer than the clock skew is honoured ...
    day_old = now - dt.timedelta(days=1)
    assert send(url, "ListStreams", BODY, {}, query=presigned(url, "ListStreams", BODY, expires=WEEK, when=day_old))[
        :2
    ] == (200, None)
    # ... and ends
    old = now - dt.timedelta(minutes=10)
    status, error, message = send(
        url, "ListStreams", BODY, {}, query=presigned(url, "ListStreams", BODY, expires=60, when=old)
    )
    assert (status, error) == (400, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {_stamp(old + dt.timedelta(seconds=60))} is now earlier than ")
    week_old = now - dt.timedelta(days=7, minutes=1)
    status, error, message = send(
        url, "ListStreams", BODY, {}, query=presigned(url, "ListStreams", BODY, expires=WEEK, when=week_old)
    )
    assert (status, error) == (400, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {_stamp(week_old + dt.timedelta(seconds=WEEK))} ")


# -- authentication before decoding ------------------------------------------------------

SIX_MB = 6 * 1024 * 1024


def _broken_json() -> bytes:
    """6 MB that is not JSON (an unterminated string): SerializationException if ever parsed."""
    return b'{"StreamName": "' + b"x" * SIX_MB


def _broken_cbor() -> bytes:
    """6 MB that is not CBOR (a text string 16 bytes longer than the body): SerializationException if parsed."""
    prefix = b"\xa1\x6aStreamName\x7a"
    return prefix + struct.pack(">I", SIX_MB + 16) + b"x" * SIX_MB


@pytest.mark.parametrize("content_type, body", [(JSON, _broken_json()), (CBOR, _broken_cbor())], ids=["json", "cbor"])
def test_signature_is_checked_before_the_body_is_decoded(url, content_type, body):
    # signed right, the body is decoded and fails ...
    headers = header_signed(url, "PutRecord", body, content_type=content_type)
    assert send(url, "PutRecord", body, headers, content_type=content_type)[:2] == (400, "SerializationException")
    # ... signed wrong, it never is: the signature's error, not the body's
    bad = header_signed(url, "PutRecord", body, "not-the-secret", content_type=content_type)
    got = send(url, "PutRecord", body, bad, content_type=content_type)
    assert got == (400, "InvalidSignatureException", MISMATCH)
    # unsigned or unknown keys alike
    got = send(url, "PutRecord", body, {}, content_type=content_type)
    assert got[:2] == (400, "MissingAuthenticationTokenException")


def test_legacy_json_bodies_are_not_decoded_unauthenticated(url):
    body = _broken_json()
    good = header_signed(url, "PutRecord", body, content_type="application/json")
    legacy = {"Output": {"__type": "com.amazon.coral.service#SerializationException"}, "Version": "1.0"}
    assert send(url, "PutRecord", body, good, content_type="application/json") == (400, None, legacy)
    bad = header_signed(url, "PutRecord", body, "not-the-secret", content_type="application/json")
    got = send(url, "PutRecord", body, bad, content_type="application/json")
    assert got == (400, "InvalidSignatureException", MISMATCH)


def test_verify_mode_order(url):
    # an empty body is still answered on the target alone, before any signature (spec 2.5 step 4)
    unsigned_empty = header_signed(url, "ListStreams", b"", "not-the-secret")
    assert send(url, "ListStreams", b"", unsigned_empty) == (400, "SerializationException", None)
    bad = header_signed(url, "NoSuchOperation", BODY, "not-the-secret")
    # a bad signature now beats an unknown operation and an unparsable body (both need a decoded request)
    assert send(url, "NoSuchOperation", BODY, bad)[:2] == (400, "InvalidSignatureException")
    good = header_signed(url, "NoSuchOperation", BODY)
    assert send(url, "NoSuchOperation", BODY, good)[:2] == (400, "UnknownOperationException")
