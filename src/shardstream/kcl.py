"""The KCL MultiLangDaemon protocol: record processors in any language, on shardstream's leases.

Amazon's Kinesis Client Library ships a Java *MultiLangDaemon* that runs a
KCL worker and hands every shard it leases to a child process, speaking a
line-delimited JSON protocol over the child's stdin and stdout.  Processors
written for it (for instance with the ``amazon_kclpy`` package) run here
unmodified: :class:`MultiLangProcessor` is a
:class:`~shardstream.consumer.RecordProcessor` that plays the daemon's part
for one shard, and ``shardstream kcl --properties app.properties``
(:mod:`shardstream.kcl_cli`) runs a :class:`~shardstream.consumer.Consumer`
with it, configured from the same ``.properties`` file (:class:`KclConfig`).

The protocol, as the Java daemon speaks it
------------------------------------------
Per leased shard the daemon starts ``executableName`` (split at spaces, not
run through a shell) and writes one JSON object per line to its stdin:

``{"action":"initialize","shardId":...,"sequenceNumber":...,"subSequenceNumber":0}``
    Once.  ``sequenceNumber`` is where the shard resumes: the checkpoint or
    ``TRIM_HORIZON`` / ``LATEST`` / ``AT_TIMESTAMP``.
``{"action":"processRecords","records":[...],"millisBehindLatest":...}``
    Per batch; each record is ``{"data": <base64>, "partitionKey",
    "sequenceNumber", "approximateArrivalTimestamp": <epoch ms>,
    "subSequenceNumber", "action": "record"}``.
``{"action":"leaseLost"}``
    Another worker took the shard; checkpointing is refused.
``{"action":"shardEnded"}``
    The shard is closed and fully read; the child must checkpoint
    (``SHARD_END``).
``{"action":"shutdownRequested"}``
    The worker is stopping; the child may checkpoint.  As in KCL 2.x/3.x a
    ``leaseLost`` follows.

After each of them the daemon reads the child's stdout until the child
answers ``{"action":"status","responseFor":<the action>}``.  Meanwhile the
child may ask ``{"action":"checkpoint","sequenceNumber":...,
"subSequenceNumber":...}`` (a null sequence number means "the last record
delivered", or ``SHARD_END`` at a shard's end); the daemon checkpoints and
answers ``{"action":"checkpoint","sequenceNumber":...,
"subSequenceNumber":...,"error":null}``, ``error`` naming the KCL exception
on failure (see :func:`checkpoint_error_name`).  Lines on the child's stdout
that are not protocol messages (blank lines, ``print`` output) are skipped;
its stderr is copied to ours line by line.  After the final message the
daemon closes the child's stdin, so the child sees end of input and exits.

If the child exits, answers a message with the wrong status, cannot be
written to, or (with ``timeoutInSeconds``) takes too long, the Java daemon
exits.  :class:`MultiLangProcessor` kills the child, reports it through its
``on_failure`` callback (``shardstream kcl`` then stops the worker and exits
with status 1) and raises :class:`MultiLangError`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import logging
import os
import queue
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

from .consumer.processor import Checkpointer, InvalidCheckpointError, LeaseLostError, RecordProcessor

__all__ = [
    "DEFAULT_ENDPOINT",
    "KclConfig",
    "MultiLangError",
    "MultiLangProcessor",
    "checkpoint_error_name",
    "close_all",
    "parse_properties",
    "record_message",
    "split_command",
]

_log = logging.getLogger("shardstream.kcl")

#: Where ``shardstream kcl`` reads from unless ``shardstreamEndpoint`` (or ``--endpoint``) says otherwise.
DEFAULT_ENDPOINT = "http://127.0.0.1:4567"

#: Messages a child may write (the Java daemon's ``Message`` subtypes); other JSON lines are skipped.
_MESSAGE_ACTIONS = frozenset(
    {"checkpoint", "status", "initialize", "processRecords", "shutdown", "shutdownRequested", "leaseLost", "shardEnded"}
)
_EOF = object()


# -- .properties files ------------------------------------------------------------------------------

_WHITESPACE = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str) -> dict[str, str]:
    """Parse the text of a Java ``.properties`` file (``java.util.Properties.load`` rules).

    Lines whose first non-blank character is ``#`` or ``!`` are comments; a
    key ends at the first unescaped ``=``, ``:`` or blank, and the value is
    the rest of the line after blanks and one optional ``=``/``:``; a line
    ending in an odd number of backslashes continues on the next one (whose
    leading blanks are dropped); ``\\t``, ``\\n``, ``\\r``, ``\\f`` and
    ``\\uXXXX`` are escapes and a backslash before any other character
    stands for that character.  A repeated key keeps its last value.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict of str to str

    Raises
    ------
    ValueError
        A malformed ``\\uXXXX`` escape.

    Examples
    --------
    >>> parse_properties('''# comment
    ... ! another
    ... executableName = python app.py
    ... streamName: orders
    ... applicationName   billing
    ... long = a, \\\\
    ...        b
    ... ''')
    {'executableName': 'python app.py', 'streamName': 'orders', 'applicationName': 'billing', 'long': 'a, b'}
    """
    lines = re.split(r"\r\n|\r|\n", text)
    props: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(_WHITESPACE)
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line):
            line = line[:-1]
            if i >= len(lines):
                break
            line += lines[i].lstrip(_WHITESPACE)
            i += 1
        key, value = _split_key_value(line)
        props[_unescape(key)] = _unescape(value)
    return props


def _continues(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split_key_value(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=:" or c in _WHITESPACE:
            break
        i += 1
    key = line[:i]
    j = i
    while j < len(line) and line[j] in _WHITESPACE:
        j += 1
    if j < len(line) and line[j] in "=:":
        j += 1
    while j < len(line) and line[j] in _WHITESPACE:
        j += 1
    return key, line[j:]


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"Malformed \\uxxxx encoding in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


def split_command(executable_name: str) -> list[str]:
    """Split ``executableName`` into a program and its arguments, as the Java daemon does.

    The daemon splits at runs of spaces (no shell, no quoting), so a path
    with spaces cannot be given; wrap such a command in a script.

    Examples
    --------
    >>> split_command("python3  /opt/app/processor.py --verbose")
    ['python3', '/opt/app/processor.py', '--verbose']
    """
    return [part for part in re.split(" +", executable_name.strip()) if part]


# -- configuration ----------------------------------------------------------------------------------

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
                                        relative to the ``.properties`` file's directory
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
        if lease_file is not None and not Path(lease_file).is_absolute():
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


# -- messages ---------------------------------------------------------------------------------------


def _epoch_millis(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(round(value.timestamp() * 1000))
    return int(round(float(value) * 1000))  # GetRecords JSON: epoch seconds


def record_message(record: Mapping) -> dict:
    """A GetRecords record as the daemon sends it (the KCL's ``JsonFriendlyRecord``).

    Parameters
    ----------
    record : dict
        ``SequenceNumber``, ``Data`` (bytes), ``PartitionKey``,
        ``ApproximateArrivalTimestamp`` (datetime or epoch seconds) and, for
        records taken out of a KPL aggregate, ``SubSequenceNumber``.

    Examples
    --------
    >>> import datetime
    >>> record_message({"SequenceNumber": "49", "Data": b"hi", "PartitionKey": "k",
    ...     "ApproximateArrivalTimestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)})
    {'data': 'aGk=', 'partitionKey': 'k', 'sequenceNumber': '49', 'approximateArrivalTimestamp': 1704067200000, \
'subSequenceNumber': 0, 'action': 'record'}
    """
    data = record["Data"]
    if isinstance(data, str):  # already base64 (raw JSON)
        encoded = data
    else:
        encoded = base64.b64encode(bytes(data)).decode("ascii")
    return {
        "data": encoded,
        "partitionKey": record["PartitionKey"],
        "sequenceNumber": record["SequenceNumber"],
        "approximateArrivalTimestamp": _epoch_millis(record.get("ApproximateArrivalTimestamp")),
        "subSequenceNumber": int(record.get("SubSequenceNumber") or 0),
        "action": "record",
    }


def _records(records) -> list[dict]:
    if isinstance(records, list):
        return [record_message(r) for r in records]
    # a pyarrow RecordBatch in shardstream.RECORD_SCHEMA (a Consumer with record_format="arrow")
    return [
        record_message(
            {
                "SequenceNumber": row["sequence_number"],
                "Data": row["data"],
                "PartitionKey": row["partition_key"],
                "ApproximateArrivalTimestamp": row["approximate_arrival_timestamp"],
            }
        )
        for row in records.to_pylist()
    ]


def checkpoint_error_name(exc: BaseException) -> str:
    """The KCL exception name the daemon reports to a child for a failed checkpoint.

    ==========================================  ============================================
    :class:`~shardstream.consumer.LeaseLostError`        ``ShutdownException``
    :class:`~shardstream.consumer.InvalidCheckpointError` ``IllegalArgumentException`` (as the
                                                          KCL's checkpointer raises for a value
                                                          outside what was delivered)
    a busy/locked lease table                   ``ThrottlingException``
    anything else                               ``KinesisClientLibDependencyException``
    ==========================================  ============================================

    Examples
    --------
    >>> checkpoint_error_name(LeaseLostError("gone"))
    'ShutdownException'
    """
    if isinstance(exc, LeaseLostError):
        return "ShutdownException"
    if isinstance(exc, (InvalidCheckpointError, ValueError, TypeError)):
        return "IllegalArgumentException"
    if isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in ("locked", "busy")):
        return "ThrottlingException"
    if type(exc).__name__ in (
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
    ):
        return "ThrottlingException"
    return "KinesisClientLibDependencyException"


def _decode(line: str):
    """A protocol message from a line of the child's stdout, or None for other output."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("action") not in _MESSAGE_ACTIONS:
        return None
    if message["action"] == "status":
        if not isinstance(message.get("responseFor"), (str, type(None))):
            return None
    elif message["action"] == "checkpoint":
        seq = message.get("sequenceNumber")
        if isinstance(seq, bool) or not isinstance(seq, (str, int, type(None))):
            return None
        sub = message.get("subSequenceNumber")
        if isinstance(sub, str) and sub.lstrip("-").isdigit():
            sub = int(sub)
        if isinstance(sub, bool) or not isinstance(sub, (int, type(None))):
            return None
        message = {**message, "sequenceNumber": None if seq is None else str(seq), "subSequenceNumber": sub}
    return message


# -- the per-shard daemon ---------------------------------------------------------------------------


class MultiLangError(RuntimeError):
    """The child process broke the protocol: it exited, answered wrongly, or took too long."""


_LIVE: weakref.WeakSet = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def close_all() -> None:
    """Kill every child process still running (the daemon is exiting)."""
    with _LIVE_LOCK:
        processors = list(_LIVE)
    for processor in processors:
        processor.close()


class MultiLangProcessor(RecordProcessor):
    """A record processor that drives a MultiLangDaemon child process for one shard.

    Parameters
    ----------
    config : KclConfig
        Its :meth:`KclConfig.resolved_command` is the child, its
        ``timeout_in_seconds`` bounds every wait for the child.
    on_failure : callable, optional
        ``on_failure(error)`` when the child broke the protocol (after it was
        killed, before :class:`MultiLangError` is raised); ``shardstream kcl``
        stops the worker, as the Java daemon exits.
    stderr : file, optional
        Where the child's stderr lines go (default: ``sys.stderr`` when written).
    env : dict, optional
        The child's environment (default: ours).
    cwd : path-like, optional
        The child's working directory (default: ours).

    Examples
    --------
    >>> import shardstream
    >>> from shardstream.kcl import KclConfig, MultiLangProcessor
    >>> config = KclConfig.from_properties("app.properties")           # doctest: +SKIP
    >>> consumer = shardstream.Consumer(stream, config.application_name,   # doctest: +SKIP
    ...     lambda: MultiLangProcessor(config), record_format="dicts", leases=config.lease_file)
    """

    def __init__(
        self,
        config: KclConfig,
        *,
        on_failure: Callable[[MultiLangError], None] | None = None,
        stderr=None,
        env: Mapping[str, str] | None = None,
        cwd=None,
    ):
        self.config = config
        self.on_failure = on_failure
        self._stderr = stderr
        self._env = None if env is None else dict(env)
        self._cwd = cwd
        self.shard_id: str | None = None
        self.state = "new"  # new -> active -> shutdown | failed
        self.returncode: int | None = None
        self._proc: subprocess.Popen | None = None
        self._messages: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    # -- RecordProcessor callbacks ------------------------------------------------------------------

    def initialize(self, shard_id: str, starting_position: str) -> None:
        """Start the child and send it ``initialize``."""
        self.shard_id = shard_id
        self._start()
        message = {"action": "initialize", "shardId": shard_id, "sequenceNumber": starting_position}
        self._call({**message, "subSequenceNumber": 0}, None)
        self.state = "active"

    def process(self, records, checkpointer: Checkpointer, millis_behind_latest) -> None:
        """Send ``processRecords`` and serve the child's checkpoints until it reports done."""
        self._require_active("processRecords")
        message = {"action": "processRecords", "records": _records(records), "millisBehindLatest": millis_behind_latest}
        self._call(message, checkpointer)

    def lease_lost(self) -> None:
        """Send ``leaseLost`` (checkpoints are refused), then let the child exit."""
        self._finish({"action": "leaseLost"}, None)

    def shard_ended(self, checkpointer: Checkpointer) -> None:
        """Send ``shardEnded`` (the child must checkpoint ``SHARD_END``), then let the child exit."""
        self._finish({"action": "shardEnded"}, checkpointer)

    def shutdown_requested(self, checkpointer: Checkpointer) -> None:
        """Send ``shutdownRequested`` (the child may checkpoint), then ``leaseLost`` as KCL 2.x/3.x do.

        The child then exits.
        """
        if self.state != "active":
            _log.info("shutdown requested for shard %s, whose child is not running", self.shard_id)
            return
        self._call({"action": "shutdownRequested"}, checkpointer)
        self._finish({"action": "leaseLost"}, None)

    # -- the child process ---------------------------------------------------------------------------

    def _start(self) -> None:
        try:
            command = self.config.resolved_command()
        except ValueError as exc:
            self._fail(f"Failed to start client executable for shard {self.shard_id}: {exc}")
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                cwd=self._cwd,
                # Ctrl-C reaches the daemon only; it shuts the children down gracefully.
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            self._fail(f"Failed to start client executable {command!r} for shard {self.shard_id}: {exc}")
        with _LIVE_LOCK:
            _LIVE.add(self)
        _log.info("started child process %d for shard %s: %s", self._proc.pid, self.shard_id, " ".join(command))
        for target, stream, name in (
            (self._read_stdout, self._proc.stdout, "stdout"),
            (self._drain_stderr, self._proc.stderr, "stderr"),
        ):
            thread = threading.Thread(target=target, args=(stream,), name=f"kcl-{name}-{self.shard_id}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_stdout(self, stream) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    continue
                message = _decode(line)
                if message is None:
                    _log.info("Skipping unexpected line on STDOUT for shard %s: %s", self.shard_id, line)
                else:
                    _log.debug("from child of shard %s: %s", self.shard_id, line)
                    self._messages.put(message)
        except (OSError, ValueError):  # the pipe was closed under us (the child was killed)
            pass
        finally:
            self._messages.put(_EOF)

    def _drain_stderr(self, stream) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                _log.debug("Received error line from subprocess [%s] for shard %s", line, self.shard_id)
                target = self._stderr if self._stderr is not None else sys.stderr
                try:
                    print(line, file=target, flush=True)
                except (OSError, ValueError):
                    pass
        except (OSError, ValueError):
            pass

    def _write(self, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":")) + "\n"
        with self._write_lock:
            self._proc.stdin.write(text.encode("utf-8"))
            self._proc.stdin.flush()

    def _call(self, message: dict, checkpointer: Checkpointer | None) -> None:
        action = message["action"]
        if self._proc is None:
            self._fail(f"no child process for shard {self.shard_id}")
        try:
            self._write(message)
        except (OSError, ValueError) as exc:
            self._fail(f"Failed to write {action} message to the child process of shard {self.shard_id}: {exc}")
        while True:
            try:
                reply = self._messages.get(timeout=self.config.timeout_in_seconds)
            except queue.Empty:
                self._fail(
                    f"Timed out after {self.config.timeout_in_seconds} s waiting for the status message of "
                    f"{action} from the child process of shard {self.shard_id} (timeoutInSeconds)"
                )
            if reply is _EOF:
                code = self._proc.poll()
                if code is None:
                    try:
                        code = self._proc.wait(1.0)
                    except subprocess.TimeoutExpired:
                        code = None
                how = "" if code is None else f" (it exited with status {code})"
                self._fail(
                    f"Reached end of STDOUT of the child process of shard {self.shard_id}{how} while waiting "
                    f"for the status message of {action}"
                )
            if reply["action"] == "checkpoint":
                self._checkpoint(reply, checkpointer)
            elif reply["action"] == "status":
                if reply.get("responseFor") != action:
                    self._fail(
                        f"Received status for {reply.get('responseFor')!r} from the child process of shard "
                        f"{self.shard_id} while waiting for {action!r}"
                    )
                _log.debug("child of shard %s finished %s", self.shard_id, action)
                return
            else:
                _log.info("Ignoring %s message from the child process of shard %s", reply["action"], self.shard_id)

    def _checkpoint(self, request: dict, checkpointer: Checkpointer | None) -> None:
        sequence_number = request.get("sequenceNumber")
        sub_sequence_number = request.get("subSequenceNumber")
        error = None
        if checkpointer is None:
            _log.error(
                "Was asked to checkpoint at %s but no checkpointer was provided for shard %s",
                sequence_number,
                self.shard_id,
            )
            error = "InvalidStateException"
        else:
            try:
                if sequence_number is None:
                    checkpointer.checkpoint()
                else:
                    sub = 0 if sub_sequence_number is None else int(sub_sequence_number)
                    if sub < 0:
                        raise InvalidCheckpointError(
                            f"Could not checkpoint at invalid, negative subsequence number {sub}"
                        )
                    checkpointer.checkpoint(sequence_number, sub)
            except Exception as exc:
                error = checkpoint_error_name(exc)
                _log.info("checkpoint of shard %s at %s failed: %s: %s", self.shard_id, sequence_number, error, exc)
        reply = {
            "action": "checkpoint",
            "sequenceNumber": sequence_number,
            "subSequenceNumber": sub_sequence_number,
            "error": error,
        }
        try:
            self._write(reply)
        except (OSError, ValueError) as exc:
            self._fail(f"Failed to write the checkpoint answer to the child process of shard {self.shard_id}: {exc}")

    def _require_active(self, action: str) -> None:
        if self.state != "active":
            raise MultiLangError(f"cannot send {action} to the child process of shard {self.shard_id}: {self.state}")

    def _finish(self, message: dict, checkpointer: Checkpointer | None) -> None:
        if self.state != "active":
            _log.warning(
                "%s for shard %s, but its child process is already %s", message["action"], self.shard_id, self.state
            )
            return
        self._call(message, checkpointer)
        self._shutdown_child()
        self.state = "shutdown"

    def _shutdown_child(self, grace: float = 10.0) -> None:
        """Close the child's stdin so it sees end of input, drain its output and wait for it to exit."""
        proc = self._proc
        if proc is None:
            return
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.returncode = proc.wait(grace)
        except subprocess.TimeoutExpired:
            _log.warning(
                "child process of shard %s did not exit %s s after its input ended; killing it", self.shard_id, grace
            )
            proc.kill()
            self.returncode = proc.wait()
        for thread in self._threads:
            thread.join(grace)
        self._close_pipes()
        _log.info("child process of shard %s exited with status %s", self.shard_id, self.returncode)

    def _close_pipes(self) -> None:
        proc = self._proc
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def _fail(self, reason: str) -> NoReturn:
        self.state = "failed"
        self._kill()
        error = MultiLangError(reason)
        _log.error("%s", reason)
        if self.on_failure is not None:
            try:
                self.on_failure(error)
            except Exception:
                _log.exception("on_failure callback failed")
        raise error

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        try:
            self.returncode = proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        for thread in self._threads:
            thread.join(2)
        self._close_pipes()

    def close(self) -> None:
        """Kill the child if it still runs (idempotent)."""
        if self.state in ("new", "active") and self._proc is not None:
            self.state = "failed" if self.state == "active" else self.state
            self._kill()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`initialize`)."""
        return None if self._proc is None else self._proc.pid

    def __repr__(self) -> str:
        return f"<MultiLangProcessor shard={self.shard_id} pid={self.pid} {self.state}>"
