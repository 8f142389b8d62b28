"""The MultiLangDaemon configuration: what ``shardstream kcl`` takes from a ``.properties`` file.

One job: :class:`KclConfig`, built from the daemon's ``.properties`` keys
(parsed by :mod:`shardstream.kcl.properties`), validated, with the child
command resolved (:func:`split_command`) and the keyword arguments of the
:class:`~shardstream.consumer.Consumer` that runs it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from .properties import parse_properties

__all__ = ["DEFAULT_ENDPOINT", "KclConfig", "split_command"]

_log = logging.getLogger("shardstream.kcl")

#: Where ``shardstream kcl`` reads from unless ``shardstreamEndpoint`` (or ``--endpoint``) says otherwise.
DEFAULT_ENDPOINT = "http://127.0.0.1:4567"


def split_command(executable_name: str) -> list[str]:
    """Split ``executableName`` into a program and its arguments, as the Java daemon does.

    The daemon splits at runs of spaces (no shell, no quoting), so a path
    with spaces cannot be given; wrap such a command in a script.

    Parameters
    ----------
    executable_name : str
        The ``executableName`` property.

    Returns
    -------
    list of str

    Examples
    --------
    >>> split_command("python3  /opt/app/processor.py --verbose")
    ['python3', '/opt/app/processor.py', '--verbose']
    """
    return [part for part in re.split(" +", executable_name.strip()) if part]


_INITIAL_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


@dataclasses.dataclass
class KclConfig:
    """What ``shardstream kcl`` needs from a MultiLangDaemon ``.properties`` file.

    Build it with :meth:`from_properties` (or directly, in code).  The keys
    read (others, such as ``AwsCredentialsProvider`` or the KCL 3 table
    settings, are accepted and ignored with a debug log):

    ==================================  ==========================================================
    ``executableName``                  the child command (required), see :func:`split_command`
    ``applicationName``                 the consumer group, i.e. lease table (required)
    ``streamName`` / ``streamArn``      the stream (one required; the ARN wins)
    ``initialPositionInStream``         ``TRIM_HORIZON``, ``LATEST`` (default, as in the KCL)
                                        or ``AT_TIMESTAMP``
    ``initialPositionInStreamExtended`` epoch seconds: start shards ``AT_TIMESTAMP`` there
    ``regionName``                      region for request signing
    ``processingLanguage``              informational
    ``maxRecords``                      records per GetRecords (default 10000)
    ``idleTimeBetweenReadsInMillis``    pause after an empty read (default 1500)
    ``failoverTimeMillis``              lease duration (default 10000)
    ``workerId``                        this worker's id (default: host, pid, random)
    ``timeoutInSeconds``                longest wait for a child's answer (default: none)
    ``shardstreamEndpoint``             shardstream (or Kinesis) server URL; falls back to
                                        ``kinesisEndpoint``, then ``http://127.0.0.1:4567``
    ``shardstreamLeaseFile``            SQLite lease table file (default
                                        ``<applicationName>.leases.db``); a relative path is
                                        relative to the ``.properties`` file's directory;
                                        ``dynamodb://<table>`` keeps the leases in DynamoDB
    ==================================  ==========================================================

    Attributes
    ----------
    executable_name, application_name, stream_name : str
    initial_position : str
    initial_timestamp : datetime or None
        For ``AT_TIMESTAMP``.
    region_name, processing_language, worker_id : str or None
    max_records, idle_time_between_reads_ms, failover_time_ms : int
    timeout_in_seconds : float or None
    endpoint : str
    lease_file : str
    base_dir : str
        Where relative ``executableName`` programs are looked for after
        ``PATH`` (the ``.properties`` file's directory).
    properties : dict
        Every key of the file, as read.
    """

    executable_name: str
    application_name: str
    stream_name: str
    initial_position: str = "LATEST"
    initial_timestamp: _dt.datetime | None = None
    region_name: str | None = None
    processing_language: str | None = None
    max_records: int = 10_000
    idle_time_between_reads_ms: int = 1_500
    failover_time_ms: int = 10_000
    worker_id: str | None = None
    timeout_in_seconds: float | None = None
    endpoint: str = DEFAULT_ENDPOINT
    lease_file: str = ""
    base_dir: str = "."
    properties: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.lease_file:
            self.lease_file = str(Path(self.base_dir) / f"{self.application_name}.leases.db")

    @classmethod
    def from_properties(cls, path) -> KclConfig:
        """Read a ``.properties`` file.

        Parameters
        ----------
        path : path-like

        Raises
        ------
        FileNotFoundError
        ValueError
            A required key is missing or a value is malformed.
        """
        path = Path(path)
        raw = path.read_bytes()
        try:  # java.util.Properties reads ISO-8859-1; UTF-8 files are the common case today
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        return cls.from_dict(parse_properties(text), base_dir=path.resolve().parent)

    @classmethod
    def from_dict(cls, props: Mapping[str, str], base_dir=".") -> KclConfig:
        """Build from already-parsed properties (see :meth:`from_properties` for the keys).

        Parameters
        ----------
        props : Mapping of str to str
            Property names to values (values are stripped; empty ones count as absent).
        base_dir : str or path-like
            What relative paths in the properties (the lease file) are relative to.

        Returns
        -------
        KclConfig

        Raises
        ------
        ValueError
            A required key is missing or a value is malformed.

        Examples
        --------
        >>> config = KclConfig.from_dict({
        ...     "executableName": "python app.py", "streamName": "orders",
        ...     "applicationName": "billing", "initialPositionInStream": "TRIM_HORIZON",
        ...     "AwsCredentialsProvider": "DefaultCredentialsProvider"}, base_dir="/srv")
        >>> config.stream_name, config.initial_position, config.lease_file
        ('orders', 'TRIM_HORIZON', '/srv/billing.leases.db')
        >>> config.command
        ['python', 'app.py']
        """
        props = {str(k): str(v) for k, v in props.items()}
        get = {k: v.strip() for k, v in props.items()}.get
        known = set()

        def take(key: str) -> str | None:
            known.add(key)
            value = get(key)
            return value if value else None

        executable = take("executableName")
        if executable is None:
            raise ValueError(
                "Must provide an executable name in the properties file, e.g. executableName = sampleapp.py"
            )
        application = take("applicationName")
        if application is None:
            raise ValueError("Application name is required (applicationName)")
        stream = take("streamName")
        arn = take("streamArn")
        if arn is not None:
            match = re.fullmatch(r"arn:[^:]+:kinesis:[^:]*:[^:]*:stream/([^/]+)", arn)
            if match is None:
                raise ValueError(f"streamArn {arn!r} is not a Kinesis stream ARN")
            stream = match.group(1)
        if stream is None:
            raise ValueError(
                "Stream name or Stream Arn is required. Stream Arn takes precedence if both are passed in."
            )

        position = (take("initialPositionInStream") or "LATEST").upper()
        if position not in _INITIAL_POSITIONS:
            raise ValueError(
                f"initialPositionInStream must be one of {', '.join(_INITIAL_POSITIONS)}, not {position!r}"
            )
        timestamp = None
        extended = take("initialPositionInStreamExtended")
        if extended is not None:
            try:
                timestamp = _dt.datetime.fromtimestamp(int(extended), tz=_dt.timezone.utc)
            except (ValueError, OverflowError, OSError) as exc:
                raise ValueError(f"initialPositionInStreamExtended must be epoch seconds, not {extended!r}") from exc
            position = "AT_TIMESTAMP"
        elif position == "AT_TIMESTAMP":
            raise ValueError(
                "initialPositionInStream AT_TIMESTAMP needs initialPositionInStreamExtended (epoch seconds)"
            )

        def integer(key: str, default: int, minimum: int = 0) -> int:
            value = take(key)
            if value is None:
                return default
            try:
                number = int(value)
            except ValueError as exc:
                raise ValueError(f"{key} must be an integer, not {value!r}") from exc
            if number < minimum:
                raise ValueError(f"{key} must be at least {minimum}, not {number}")
            return number

        timeout_text = take("timeoutInSeconds")
        try:
            timeout = None if timeout_text is None else float(timeout_text)
        except ValueError as exc:
            raise ValueError(f"timeoutInSeconds must be a number, not {timeout_text!r}") from exc
        if timeout is not None and timeout <= 0:
            timeout = None

        endpoint = take("shardstreamEndpoint") or take("kinesisEndpoint") or DEFAULT_ENDPOINT
        lease_file = take("shardstreamLeaseFile")
        if lease_file is not None and "://" not in lease_file and not Path(lease_file).is_absolute():
            lease_file = str(Path(base_dir) / lease_file)

        config = cls(
            executable_name=executable,
            application_name=application,
            stream_name=stream,
            initial_position=position,
            initial_timestamp=timestamp,
            region_name=take("regionName"),
            processing_language=take("processingLanguage"),
            max_records=integer("maxRecords", 10_000, minimum=1),
            idle_time_between_reads_ms=integer("idleTimeBetweenReadsInMillis", 1_500),
            failover_time_ms=integer("failoverTimeMillis", 10_000, minimum=100),
            worker_id=take("workerId"),
            timeout_in_seconds=timeout,
            endpoint=endpoint,
            lease_file=lease_file or "",
            base_dir=str(base_dir),
            properties=dict(props),
        )
        for key in props:
            if key not in known:
                _log.debug("ignoring property %s (no effect on shardstream)", key)
        return config

    @property
    def command(self) -> list[str]:
        """``executableName`` split into program and arguments (:func:`split_command`)."""
        return split_command(self.executable_name)

    def resolved_command(self) -> list[str]:
        """:attr:`command` with its program found: as given if it has a ``/``, else on ``PATH``.

        A bare name not on ``PATH`` is also looked for in :attr:`base_dir` and
        the working directory, so the sample's ``executableName =
        sample_kclpy_app.py`` next to its ``.properties`` file works.
        """
        command = self.command
        if not command:
            raise ValueError("executableName is empty")
        program = command[0]
        if os.sep in program or (os.altsep and os.altsep in program) or shutil.which(program):
            return command
        for directory in (self.base_dir, os.getcwd()):
            candidate = Path(directory) / program
            if candidate.is_file():
                return [str(candidate), *command[1:]]
        return command

    def consumer_kwargs(self) -> dict:
        """Keyword arguments for :class:`~shardstream.consumer.Consumer` (besides stream and processor)."""
        return {
            "group": self.application_name,
            "worker_id": self.worker_id,
            "leases": self.lease_file,
            "initial_position": self.initial_position,
            "timestamp": self.initial_timestamp,
            "record_format": "dicts",
            "failover_ms": self.failover_time_ms,
            "idle_ms": self.idle_time_between_reads_ms,
            "max_records": self.max_records,
        }
