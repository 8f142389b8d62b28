"""Exceptions named and worded like Kinesis's errors.

Every error carries ``error_type`` (the ``__type`` Kinesis puts in an error
body) and ``http_status``, and also derives from the builtin exception that
fits, so ``except LookupError`` or ``except ValueError`` catch what a Python
user would expect.  ``ERRORS`` maps Kinesis type names to classes.

Every error also has a botocore-style ``response`` dict, so code written for
boto3's ``except ClientError as e: e.response["Error"]["Code"]`` works on
shardstream's errors, embedded or remote: an error that came back from a
server (:func:`error_from_response`) keeps the response botocore parsed; an
embedded one builds it from its own type, message and status.

A remote call that never got an answer (connection refused, TLS failure,
time-out) raises :class:`RemoteConnectionError`, a builtin ``ConnectionError``.
"""

from __future__ import annotations

__all__ = [
    "ERRORS",
    "AccessDeniedException",
    "AlarmNotFoundException",
    "DryRunOperationException",
    "ExpiredIteratorException",
    "ExpiredNextTokenException",
    "InternalFailureException",
    "InvalidArgumentException",
    "InvalidFormatException",
    "InvalidNextTokenException",
    "InvalidParameterCombinationException",
    "InvalidParameterValueException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSError",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "KinesisError",
    "LimitExceededException",
    "MissingRequiredParameterException",
    "ProvisionedThroughputExceededException",
    "RemoteConnectionError",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "ServiceUnavailable",
    "StorageError",
    "StorageFullError",
    "ValidationException",
    "error_for",
    "error_from_response",
    "storage_error",
]

ERRORS: dict[str, type[KinesisError]] = {}


class KinesisError(Exception):
    """Base class of every error shardstream raises for a bad request.

    Parameters
    ----------
    message : str
        The Kinesis message text, e.g. ``"Stream s under account 000000000000 not found."``.

    Attributes
    ----------
    error_type : str
        The Kinesis error name (``__type`` in a JSON error body).
    http_status : int
        The HTTP status the Kinesis API answers with.
    response : dict
        botocore's shape of the error: ``{"Error": {"Code", "Message"},
        "ResponseMetadata": {"HTTPStatusCode", ...}}`` (the parsed response
        for an error from a server, else built from ``error_type``,
        ``message`` and ``http_status``).
    """

    error_type = "KinesisError"
    http_status = 400
    _response: dict | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "error_type" not in cls.__dict__:  # a class may answer under another Kinesis name
            cls.error_type = cls.__name__
        ERRORS.setdefault(cls.error_type, cls)

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        """The JSON error body Kinesis sends: ``{"__type": ..., "message": ...}``."""
        return {"__type": self.error_type, "message": self.message}

    @property
    def response(self) -> dict:
        """botocore's error shape (``e.response["Error"]["Code"]``), as boto3's ``ClientError`` has it."""
        if self._response is not None:
            return self._response
        return {
            "Error": {"Code": self.error_type, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
        }

    @response.setter
    def response(self, value: dict) -> None:
        """Keep the response an error came back with (see :func:`error_from_response`).

        Parameters
        ----------
        value : dict
            botocore's parsed error response.
        """
        self._response = value


class ResourceNotFoundException(KinesisError, LookupError):
    """The stream, shard or consumer does not exist (or is not yet usable)."""


class ResourceInUseException(KinesisError):
    """The resource exists already, or is not in a state that allows the call."""


class InvalidArgumentException(KinesisError, ValueError):
    """A parameter is well formed but not acceptable (out of range, wrong shard, ...)."""


class ValidationException(KinesisError, ValueError):
    """A parameter breaks the API model's constraints (length, pattern, range)."""


class SerializationException(KinesisError, TypeError):
    """A parameter has the wrong type."""


class LimitExceededException(KinesisError):
    """A quota (shard limit, call rate, scaling bounds) would be exceeded."""


class ProvisionedThroughputExceededException(KinesisError):
    """The shard cannot take (or serve) this now: throughput limit or a full shard log."""


class ExpiredIteratorException(KinesisError):
    """The shard iterator is older than five minutes."""


class ExpiredNextTokenException(KinesisError):
    """The pagination token is older than five minutes."""


class AccessDeniedException(KinesisError):
    """The caller may not perform this action."""


class KMSError(KinesisError):
    """Base class of the errors about a stream's KMS key (encryption at rest, :mod:`shardstream.keys`).

    Kinesis answers these with HTTP 400, as every other client error; each
    subclass carries its Kinesis name.
    """


class KMSNotFoundException(KMSError, LookupError):
    """The KMS key (id, alias or ARN) is not in the key store, or there is no key store."""


class KMSDisabledException(KMSError):
    """The KMS key is disabled in the key store."""


class KMSAccessDeniedException(KMSError):
    """The KMS key cannot open what it is asked to: its material is not the one a batch was sealed with."""


class KMSInvalidStateException(KMSError):
    """The KMS key is in a state that forbids its use (pending deletion)."""


class DryRunOperationException(KinesisError):
    """A request with ``DryRun`` (``dry_run=True``) passed every check; nothing was done.

    Raised instead of the call's result, as Kinesis answers a dry run that
    would have succeeded (HTTP 400).  A dry run that would fail raises that
    failure instead.

    Parameters
    ----------
    message : str
        Default :attr:`MESSAGE`, the model's text.
    """

    #: The model's text for this error.
    MESSAGE = "The request was rejected because the DryRun parameter was specified."

    def __init__(self, message: str = MESSAGE):
        super().__init__(message)


class InvalidParameterValueException(KinesisError, ValueError):
    """A CloudWatch request with a bad parameter (a period, a statistic, a time range)."""

    error_type = "InvalidParameterValue"


class MissingRequiredParameterException(KinesisError, ValueError):
    """A CloudWatch request without a parameter it needs."""

    error_type = "MissingParameter"


class InvalidParameterCombinationException(KinesisError, ValueError):
    """A CloudWatch request with parameters that do not go together (or neither of two it needs one of)."""

    error_type = "InvalidParameterCombination"


class InvalidNextTokenException(KinesisError, ValueError):
    """A CloudWatch request with a NextToken that no earlier answer gave."""

    error_type = "InvalidNextToken"


class InvalidFormatException(KinesisError, ValueError):
    """A CloudWatch request with a malformed document (SetAlarmState's StateReasonData is not JSON)."""

    error_type = "InvalidFormat"


class AlarmNotFoundException(KinesisError, LookupError):
    """CloudWatch's ``ResourceNotFound``: the named alarm does not exist (SetAlarmState, DeleteAlarms)."""

    error_type = "ResourceNotFound"
    http_status = 404


class InternalFailureException(KinesisError):
    """An unexpected failure inside shardstream."""

    http_status = 500


class ServiceUnavailable(KinesisError):
    """The service cannot take the request now; retry later (HTTP 503, which SDKs retry)."""

    http_status = 503


class StorageError(ServiceUnavailable, OSError):
    """The data directory could not be written; nothing of the call was stored (see ``records``).

    Answered as Kinesis's ``ServiceUnavailable`` (HTTP 503); in Python also an
    ``OSError`` (``errno`` is the failed system call's).  Retryable.

    Parameters
    ----------
    message : str
    errno : int, optional
        The failed system call's error number.
    records : list, optional
        See the ``records`` attribute.
    """

    error_type = "ServiceUnavailable"

    def __init__(self, message: str, errno: int | None = None, records: list | None = None):
        super().__init__(message)
        self.errno = errno
        #: For a put of several records of which some were stored before the failure: per record
        #: of the put, in order, ``(shard_id, sequence_number)`` if it was stored, else None.
        #: None when nothing of the call was stored.
        self.records = records


class StorageFullError(StorageError):
    """The disk (or quota) holding the data directory is full; nothing of the call was stored.

    Writes resume by themselves once space is freed: retry later.
    """

    error_type = "ServiceUnavailable"
    MESSAGE = (
        "The disk holding the data directory is full ({reason}): the write was not stored; retry once space is freed"
    )


def storage_error(exc: OSError) -> StorageError:
    """The retryable Kinesis error for a failed write to the data directory.

    Parameters
    ----------
    exc : OSError
        What the system call raised.

    Returns
    -------
    StorageError
        A :class:`StorageFullError` for ``ENOSPC``/``EDQUOT``, otherwise a
        :class:`StorageError` naming the error; ``exc`` itself if it is one.
    """
    import errno as _errno
    import os as _os

    if isinstance(exc, StorageError):
        return exc
    code = exc.errno
    reason = exc.strerror or (_os.strerror(code) if code else str(exc))
    if code in (_errno.ENOSPC, _errno.EDQUOT):
        return StorageFullError(StorageFullError.MESSAGE.format(reason=reason), code)
    return StorageError(f"Writing the data directory failed ({reason}): the write was not stored; retry later", code)


class RemoteConnectionError(ConnectionError):
    """A remote call got no answer: connection refused or reset, TLS failure, time-out.

    Raised by the remote engine (``shardstream.connect(url)``) after botocore's
    own retries; the botocore exception is ``__cause__``.  A builtin
    ``ConnectionError``, so retry loops can catch it without botocore.

    Parameters
    ----------
    message : str
    url : str, optional
        The endpoint that could not be reached.
    """

    def __init__(self, message: str, url: str | None = None):
        super().__init__(message)
        self.url = url


def error_from_response(response: dict) -> KinesisError:
    """The shardstream exception for an error response as botocore parses it.

    Parameters
    ----------
    response : dict
        ``ClientError.response``: ``{"Error": {"Code": ..., "Message": ...},
        "ResponseMetadata": {"HTTPStatusCode": ...}}``.

    Returns
    -------
    KinesisError
        The class registered under the code (see :func:`error_for`), with
        ``response`` kept as it came; an unknown code gets the response's
        HTTP status as ``http_status``.
    """
    error = response.get("Error") or {}
    code = error.get("Code") or "InternalFailure"
    exc = error_for(code, error.get("Message") or "")
    if code not in ERRORS:
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if status is not None:
            exc.http_status = status
    exc.response = response
    return exc


def error_for(error_type: str, message: str) -> KinesisError:
    """Build the exception registered under a Kinesis error name.

    Parameters
    ----------
    error_type : str
        A Kinesis error name such as ``"ResourceNotFoundException"``.
    message : str
        Its message text.

    Returns
    -------
    KinesisError
        An instance of the matching class (``KinesisError`` itself when the
        name is unknown, with ``error_type`` set to that name).
    """
    cls = ERRORS.get(error_type)
    if cls is not None:
        return cls(message)
    err = KinesisError(message)
    err.error_type = error_type
    return err
