"""The retry policy: full-jitter backoff within its bounds, the deadline, and which errors are retried."""

from __future__ import annotations

import random
import urllib.error

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

import shardstream
from shardstream.errors import error_for
from shardstream.producing.retry import RetryPolicy, is_retryable


def test_backoff_is_full_jitter_within_the_exponential_bound():
    policy = RetryPolicy(max_retries=20, deadline=None, base=0.1, cap=3.0, rng=random.Random(5))
    for n in range(12):
        bound = min(3.0, 0.1 * 2**n)
        waits = [policy.backoff(n) for _ in range(400)]
        assert all(0 <= w <= bound for w in waits)
        # spread over the whole range (full jitter), not bunched near the bound
        assert min(waits) < 0.1 * bound and max(waits) > 0.9 * bound


def test_retries_stop_at_max_retries_or_the_deadline():
    policy = RetryPolicy(max_retries=3, deadline=10.0, base=0.01, cap=0.01, rng=random.Random(1))
    assert policy.next_attempt(1, first_sent_at=100.0, now=100.0) is not None
    assert policy.next_attempt(3, first_sent_at=100.0, now=100.0) is not None
    assert policy.next_attempt(4, first_sent_at=100.0, now=100.0) is None  # 3 retries made
    assert policy.next_attempt(1, first_sent_at=100.0, now=110.0) is None  # past the deadline
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(base=2.0, cap=1.0)


@pytest.mark.parametrize(
    "exc",
    [
        shardstream.ProvisionedThroughputExceededException("Rate exceeded"),
        error_for("InternalFailure", "oops"),
        error_for("KMSThrottlingException", "slow down"),
        shardstream.ServiceUnavailable("busy"),
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutRecords"),
        ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "x"}}, "PutRecords"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ConnectionRefusedError(111, "refused"),
        urllib.error.URLError("refused"),
        TimeoutError(),
    ],
)
def test_retryable(exc):
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        shardstream.ResourceNotFoundException("Stream s not found"),
        shardstream.ValidationException("1 validation error"),
        error_for("AccessDeniedException", "no"),
        ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "x"}}, "PutRecords"),
        TypeError("a bug"),
    ],
)
def test_not_retryable(exc):
    assert not is_retryable(exc)


def test_a_connection_error_wrapped_by_a_client_is_still_retried():
    wrapper = shardstream.KinesisError("could not reach the endpoint")
    wrapper.error_type = "EndpointUnreachable"
    wrapper.__cause__ = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert is_retryable(wrapper)
    plain = shardstream.KinesisError("something else")
    plain.error_type = "SomethingElse"
    assert not is_retryable(plain)
