"""Which failed puts a producer retries, and when: exponential backoff with full jitter.

A failure is retryable when Kinesis says to try again: throttling (``ProvisionedThroughputExceededException``,
``KMSThrottlingException``), an internal failure (``InternalFailure``), a 5xx (``ServiceUnavailable``,
a durable engine's storage error), or no answer at all (a connection error or timeout).  Anything else (a
missing stream, a validation error, access denied...) fails the record at once.
"""

from __future__ import annotations

import random

from .. import errors

__all__ = ["RETRYABLE_CODES", "RetryPolicy", "error_code", "is_retryable"]

#: Kinesis error codes (per entry or per call) worth another try.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "KMSThrottlingException",
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# botocore's and urllib3's names for "no answer" (not OSError subclasses everywhere).
_CONNECTION_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionError",
        "ProtocolError",
        "HTTPClientError",
        "ProxyConnectionError",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The Kinesis error code of ``exc``: its ``error_type``, or botocore's ``response["Error"]["Code"]``."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return code
    return getattr(exc, "error_type", None)


def is_retryable(exc: BaseException) -> bool:
    """Whether a call that raised ``exc`` may succeed if made again.

    Parameters
    ----------
    exc : BaseException
        A Kinesis error (by its code), or a transport error -- also one a client wrapped (its ``__cause__``).

    Returns
    -------
    bool
    """
    code = error_code(exc)
    if code in RETRYABLE_CODES or code in _CONNECTION_ERRORS:
        return True
    seen: BaseException | None = exc
    for _ in range(8):  # the chain of causes, not forever
        if seen is None:
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if isinstance(seen, OSError) and not isinstance(seen, errors.KinesisError):
            return True  # urllib's URLError and other transport failures
        if any(cls.__name__ in _CONNECTION_ERRORS for cls in type(seen).__mro__):
            return True
        seen = seen.__cause__
    return False


class RetryPolicy:
    """When a failed Kinesis record is sent again, and when the producer gives up on it.

    The n-th retry (n = 0, 1, ...) waits a random time between 0 and ``min(cap, base * 2**n)`` seconds
    ("full jitter"), so producers that failed together do not retry together.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt; the record fails with its last error after that.
    deadline : float or None
        Seconds from ``send()`` after which a record is not retried (None: no deadline).
    base : float
        The first backoff's upper bound, in seconds.
    cap : float
        The largest backoff, in seconds.
    rng : random.Random, optional
        Where the jitter comes from (tests seed one).

    Raises
    ------
    ValueError
        A negative count or time, or ``cap < base``.
    """

    def __init__(
        self,
        max_retries: int = 10,
        deadline: float | None = 30.0,
        base: float = 0.05,
        cap: float = 2.0,
        rng: random.Random | None = None,
    ):
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, not {max_retries!r}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"the retry deadline must be > 0 seconds (or None), not {deadline!r}")
        if not 0 < base <= cap:
            raise ValueError(f"backoff needs 0 < base <= cap, not base={base!r} cap={cap!r}")
        self.max_retries = max_retries
        self.deadline = deadline
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 first): uniform in [0, min(cap, base * 2**retry)]."""
        return self._rng.uniform(0.0, min(self.cap, self.base * 2.0 ** min(retry, 62)))

    def next_attempt(self, attempts: int, first_sent_at: float, now: float) -> float | None:
        """When to try again a record tried ``attempts`` times, sent at ``first_sent_at``; None: give up.

        Parameters
        ----------
        attempts : int
            Attempts made so far (1 after the first failure).
        first_sent_at : float
            ``time.monotonic()`` of the ``send()`` of its oldest user record.
        now : float
            ``time.monotonic()`` now.

        Returns
        -------
        float or None
            The ``time.monotonic()`` time of the next attempt, or None when retries or time are spent.
        """
        if attempts > self.max_retries:
            return None
        at = now + self.backoff(attempts - 1)
        if self.deadline is not None and at > first_sent_at + self.deadline:
            return None
        return at

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_retries={self.max_retries}, deadline={self.deadline}, base={self.base}, cap={self.cap})"
        )
