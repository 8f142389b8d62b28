"""Queues: per-record delivery with acknowledgements on top of on-demand streams, per engine.

Every :class:`~shardstream.Engine` holds one :class:`QueueRegistry`
(``engine.queues``); the engine publishes its calls (``create_queue``,
``describe_queue``, ``list_queues``, ``update_queue``, ``delete_queue``,
``receive_queue_records``, ``acknowledge_queue_records``,
``update_queue_records_visibility`` and the four dead-letter calls) in
boto3's shapes.  Each :class:`~shardstream.queue.Queue` owns its delivery
state; see :mod:`shardstream.queue_state` for its design.

Rules (Kinesis's CreateQueue and friends): on-demand streams only; a queue
counts against its stream's consumer limit (20, shared with enhanced
fan-out); its ARN is ``arn:aws:kinesis:<region>:<account>:queue/<id>``; it
is CREATING, UPDATING (after UpdateQueue) and DELETING for the engine's
``transition_ms``; a stream with queues cannot be deleted or made
PROVISIONED.  RecordId is the record's sequence number (the same in every
queue of the stream).

Examples
--------
>>> from shardstream import Engine
>>> engine = Engine()
>>> stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
>>> queue = engine.create_queue("work", [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}])
>>> arn = queue["QueueDescription"]["QueueARN"]
>>> _ = stream.put_record(b"job-1", "k")
>>> [record] = engine.receive_queue_records(arn, wait_time_seconds=1)["QueueRecords"]
>>> record["Data"], record["ReceiveCount"]
(b'job-1', 1)
>>> engine.acknowledge_queue_records(arn, [{"ReceiptHandle": record["ReceiptHandle"]}])["Failed"]
[]
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid

from . import validation as v
from .errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ValidationException,
)
from .models import to_epoch_ms
from .queue import Queue
from .queue_records import queue_records, settle_results
from .queue_state import replay
from .storage.layout import trash_dir
from .storage.queue_files import QUEUE_FILE, QueueFiles, queues_dir

__all__ = ["MAX_RECEIVE_LIMIT", "QueueRegistry"]

MAX_RECEIVE_LIMIT = 10
MAX_ENTRIES = 10
MAX_VISIBILITY_S = 43_200
DEFAULT_VISIBILITY_S = 30
DEFAULT_WAIT_S = 9
DEFAULT_DEAD_LETTER = {"TargetType": "BUILT_IN", "MaxReceiveCount": 6}
QUEUE_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:queue/\S+"
STREAM_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+"
_TOKEN_KIND = "ListQueues"


def _typed(name: str, value, kind, what: str) -> None:
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise SerializationException(f"{name} must be {what}, not {type(value).__name__}")


def _check_visibility(errs: list, path: str, value) -> None:
    _typed("VisibilityTimeoutSeconds", value, int, "an int")
    if value is not None:
        v.check_int_range(errs, path, value, 0, MAX_VISIBILITY_S)


def _check_dead_letter(errs: list, config) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise SerializationException("DeadLetterConfiguration must be a structure")
    kind, count = config.get("TargetType"), config.get("MaxReceiveCount")
    if v.check_required(errs, "queueAttributes.deadLetterConfiguration.targetType", kind):
        v.check_enum(errs, "queueAttributes.deadLetterConfiguration.targetType", kind, ["BUILT_IN", "NONE"])
    _typed("MaxReceiveCount", count, int, "an int")
    if count is not None:
        v.check_int_range(errs, "queueAttributes.deadLetterConfiguration.maxReceiveCount", count, 1, 1000)


def _dead_letter(config) -> dict:
    if config["TargetType"] == "NONE":
        if config.get("MaxReceiveCount") is not None:
            raise ValidationException("MaxReceiveCount is only allowed when TargetType is BUILT_IN.")
        return {"TargetType": "NONE"}
    if config.get("MaxReceiveCount") is None:
        raise ValidationException("MaxReceiveCount is required when TargetType is BUILT_IN.")
    return {"TargetType": "BUILT_IN", "MaxReceiveCount": config["MaxReceiveCount"]}


def _parse_create(queue_name, configs, queue_attributes) -> tuple:
    """CreateQueue's checks: ``(stream ARN, starting position, visibility timeout, dead-letter configuration)``."""
    _typed("QueueName", queue_name, str, "a str")
    if configs is not None and not isinstance(configs, list):
        raise SerializationException("StreamConfigurationList must be a list")
    if queue_attributes is not None and not isinstance(queue_attributes, dict):
        raise SerializationException("QueueAttributes must be a structure")
    errs: list = []
    v.check_name(errs, "queueName", queue_name)
    if v.check_required(errs, "streamConfigurationList", configs):
        v.check_length(errs, "streamConfigurationList", configs, 1, 10_000)
    attrs = queue_attributes or {}
    _check_visibility(errs, "queueAttributes.visibilityTimeoutSeconds", attrs.get("VisibilityTimeoutSeconds"))
    _check_dead_letter(errs, attrs.get("DeadLetterConfiguration"))
    position = {"Type": "LATEST"}
    stream_arn = None
    if configs:
        config = configs[0]
        if not isinstance(config, dict):
            raise SerializationException("QueueStreamConfiguration must be a structure")
        stream_arn = config.get("StreamARN")
        _typed("StreamARN", stream_arn, str, "a str")
        if v.check_required(errs, "streamConfigurationList.1.member.streamARN", stream_arn):
            v.check_pattern(errs, "streamConfigurationList.1.member.streamARN", stream_arn, STREAM_ARN_PATTERN)
        given = config.get("StartingPosition")
        if given is not None:
            if not isinstance(given, dict):
                raise SerializationException("StartingPosition must be a structure")
            kind = given.get("Type")
            if v.check_required(errs, "streamConfigurationList.1.member.startingPosition.type", kind):
                v.check_enum(
                    errs,
                    "streamConfigurationList.1.member.startingPosition.type",
                    kind,
                    ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"],
                )
            position = {"Type": kind, "Timestamp": given.get("Timestamp")}
    v.raise_if_any(errs)
    if len(configs) != 1:
        raise InvalidArgumentException("StreamConfigurationList must contain exactly one stream configuration.")
    if position.get("Timestamp") is not None:
        if position["Type"] != "AT_TIMESTAMP":
            raise ValidationException("Timestamp is only allowed when the StartingPosition Type is AT_TIMESTAMP.")
        try:
            position["Timestamp"] = to_epoch_ms(position["Timestamp"])
        except TypeError as exc:
            raise SerializationException(str(exc)) from None
    elif position["Type"] == "AT_TIMESTAMP":
        raise ValidationException("Timestamp is required when the StartingPosition Type is AT_TIMESTAMP.")
    dead_letter = _dead_letter(attrs.get("DeadLetterConfiguration") or DEFAULT_DEAD_LETTER)
    visibility = attrs.get("VisibilityTimeoutSeconds", DEFAULT_VISIBILITY_S)
    return stream_arn, position, visibility, dead_letter


def _open_stored(registry, path) -> Queue | None:
    """The queue kept in ``path`` (snapshot plus journal replayed), or None if it should not exist."""
    if not (path / QUEUE_FILE).exists():
        return None
    doc, snapshot, payloads = QueueFiles.load(path)
    stream = registry.catalog.lookup(doc["stream_name"])
    if (
        snapshot is None  # CreateQueue never returned
        or stream is None
        or stream.incarnation != doc["incarnation"]
        or doc["life"]["status"] == "DELETING"
    ):
        return None
    shards, next_nonce = replay(snapshot, payloads)
    queue = Queue(
        registry,
        name=doc["name"],
        arn=doc["arn"],
        serial=doc["serial"],
        stream=stream,
        starting_position=doc["starting_position"],
        visibility_s=doc["visibility_s"],
        dead_letter=doc["dead_letter"],
        created_ms=doc["created_ms"],
        tags=doc["tags"],
        restored={"life": doc["life"], "shards": shards, "next_nonce": next_nonce},
    )
    queue.keep_in(QueueFiles(path))
    return queue


class QueueRegistry:
    """The queues of one engine (see :mod:`shardstream.queues`).

    Parameters
    ----------
    catalog : Catalog
        The engine's streams, clock, lock and token codecs; the registry
        enters itself as its ``queues``.
    data_dir : path-like, optional
        A durable engine's data directory: queues on its durable streams keep
        their settings and delivery state in ``<data_dir>/queues``
        (:mod:`shardstream.storage.queue_files`) and :meth:`restore` finds them again.
    """

    def __init__(self, catalog, data_dir=None):
        self.catalog = catalog
        catalog.queues = self
        self.account_id = catalog.account_id
        self.handles = catalog.receipts
        self._lock = threading.Lock()  # guards _by_arn; data-plane calls never take the catalog's lock
        self._by_arn: dict[str, Queue] = {}
        self._serial = 0
        self._root = None if data_dir is None else queues_dir(data_dir)
        #: Where deleted queues' files go before they are removed (None: in memory).
        self.trash = None if data_dir is None else trash_dir(data_dir)

    # -- persistence ---------------------------------------------------------------------

    def restore(self) -> None:
        """Open the durable queues kept in the data directory whose stream (incarnation) still exists.

        Each queue's delivery state is its snapshot plus its journal replayed;
        what was in flight is visible again, nothing acknowledged comes back.
        The files of queues whose stream is gone are removed.
        """
        if self._root is None or not self._root.is_dir():
            return
        for path in sorted(self._root.iterdir()):
            queue = _open_stored(self, path)
            if queue is None:
                shutil.rmtree(path, ignore_errors=True)  # a creation cut short, or its stream is gone
                continue
            self._serial = max(self._serial, queue.serial)
            with self._lock:
                self._by_arn[queue.arn] = queue

    def flush(self) -> None:
        """Sync the durable queues' journals (the maintenance thread, every flush interval)."""
        for queue in self._live():
            queue.flush()

    def close(self) -> None:
        """Sync and close every durable queue's files (the engine's close)."""
        with self._lock:
            queues = list(self._by_arn.values())
        for queue in queues:
            queue.close()

    def now_ms(self) -> int:
        """The engine's current time, ms since the epoch."""
        return self.catalog.now_ms()

    # -- lookup --------------------------------------------------------------------------

    def _live(self) -> list[Queue]:
        with self._lock:
            queues = list(self._by_arn.items())
        dead = [arn for arn, q in queues if q.gone or self.catalog.lookup(q.stream.name) is not q.stream]
        with self._lock:
            for arn in dead:
                self._by_arn.pop(arn, None)
            return list(self._by_arn.values())

    def all(self) -> list[Queue]:
        """Every queue not deleted, in no particular order."""
        return self._live()

    def queues(self, stream) -> list[Queue]:
        """The queues of ``stream`` (any status), by name."""
        return sorted((q for q in self._live() if q.stream is stream), key=lambda q: q.name)

    def count(self, stream) -> int:
        """How many queues ``stream`` has (DescribeStreamSummary's ``QueueCount``)."""
        return len(self.queues(stream))

    def queue(self, queue_arn) -> Queue:
        """The queue ``queue_arn`` names (any status).

        Parameters
        ----------
        queue_arn : str

        Raises
        ------
        ValidationException, SerializationException
            A missing or malformed ARN.
        ResourceNotFoundException
            No such queue.
        """
        _typed("QueueARN", queue_arn, str, "a str")
        errs: list = []
        if v.check_required(errs, "queueARN", queue_arn):
            v.check_length(errs, "queueARN", queue_arn, 1, 2048)
            v.check_pattern(errs, "queueARN", queue_arn, QUEUE_ARN_PATTERN)
        v.raise_if_any(errs)
        with self._lock:
            q = self._by_arn.get(queue_arn)
        if q is None or q.gone:
            raise ResourceNotFoundException(f"Queue {queue_arn} under account {self.account_id} not found.")
        return q

    def queue_stream_name(self, queue_arn) -> str:
        """The name of the stream the queue ``queue_arn`` reads (for authorization).

        Parameters
        ----------
        queue_arn : str

        Raises
        ------
        KinesisError
            As :meth:`queue`.
        """
        return self.queue(queue_arn).stream.name

    # -- control plane ----------------------------------------------------------------------

    def create_queue(self, queue_name, stream_configuration_list, queue_attributes=None, tags=None) -> dict:
        """boto3's CreateQueue: a queue on one on-demand stream.

        Parameters
        ----------
        queue_name : str
            1-128 characters of ``[a-zA-Z0-9_.-]``, unique in the engine.
        stream_configuration_list : list of dict
            Exactly one ``{"StreamARN", "StartingPosition": {"Type": "TRIM_HORIZON" | "LATEST" |
            "AT_TIMESTAMP", "Timestamp"}}`` (LATEST by default).
        queue_attributes : dict, optional
            ``{"VisibilityTimeoutSeconds": 0-43200 (30), "DeadLetterConfiguration": {"TargetType":
            "BUILT_IN" | "NONE", "MaxReceiveCount": 1-1000}}`` (BUILT_IN with 6 by default).
        tags : dict, optional

        Returns
        -------
        dict
            ``{"QueueDescription": {...}}``.

        Raises
        ------
        ValidationException, SerializationException, InvalidArgumentException
            A malformed request, not exactly one stream, or a PROVISIONED stream.
        ResourceNotFoundException
            No such stream.
        ResourceInUseException
            The name is taken, or the stream is not ACTIVE.
        LimitExceededException
            The stream has 20 consumers and queues.
        """
        stream_arn, position, visibility, dead_letter = _parse_create(
            queue_name, stream_configuration_list, queue_attributes
        )
        stream = self.catalog.stream(stream_arn=stream_arn)
        with self.catalog.lock:
            self.catalog.check_open()
            status = stream.status
            if status not in ("ACTIVE", "UPDATING"):
                raise ResourceInUseException(
                    f"Stream {stream.name} under account {self.account_id} not ACTIVE, instead in state {status}"
                )
            if stream.stream_mode != "ON_DEMAND":
                raise InvalidArgumentException(
                    f"Queues are only supported for On-Demand streams. Stream {stream.name} under account "
                    f"{self.account_id} is in PROVISIONED mode."
                )
            if any(q.name == queue_name for q in self._live()):
                raise ResourceInUseException(f"Queue {queue_name} under account {self.account_id} already exists.")
            if self.catalog.consumer_count(stream) + self.count(stream) >= 20:
                raise LimitExceededException("Only 20 consumers and queues can be registered to a stream at once")
            self._serial += 1
            queue_id = uuid.uuid4().hex
            arn = f"arn:aws:kinesis:{self.catalog.region}:{self.account_id}:queue/{queue_id}"
            queue = Queue(
                self,
                name=queue_name,
                arn=arn,
                serial=self._serial,
                stream=stream,
                starting_position=position,
                visibility_s=visibility,
                dead_letter=dead_letter,
                created_ms=self.now_ms(),
                tags=tags,
            )
            if self._root is not None and hasattr(stream, "store"):  # a durable stream: a durable queue
                queue.keep_in(QueueFiles.create(self._root, queue_id, queue.to_doc()))
            with self._lock:
                self._by_arn[arn] = queue
        return {"QueueDescription": queue.describe()}

    def describe_queue(self, queue_arn) -> dict:
        """boto3's DescribeQueue: ``{"QueueDescription": {...}}``.

        Parameters
        ----------
        queue_arn : str
        """
        return {"QueueDescription": self.queue(queue_arn).describe()}

    def list_queues(self, max_results=None, next_token=None, stream_filter=None) -> dict:
        """boto3's ListQueues: ``{"QueueSummaries": [...], "NextToken": ...}`` in name order.

        Parameters
        ----------
        max_results : int, optional
            1 to 10,000 per page (default 100).
        next_token : str, optional
            From the previous page.
        stream_filter : list of dict, optional
            ``[{"StreamARN", "StreamCreationTimestamp"}]``: only those streams' queues.
        """
        _typed("MaxResults", max_results, int, "an int")
        _typed("NextToken", next_token, str, "a str")
        _typed("StreamFilter", stream_filter, list, "a list")
        if stream_filter is not None and not all(isinstance(f, dict) for f in stream_filter):
            raise SerializationException("StreamFilter entries must be structures")
        errs: list = []
        if max_results is not None:
            v.check_int_range(errs, "maxResults", max_results, 1, 10_000)
        v.raise_if_any(errs)
        queues = sorted(self._live(), key=lambda q: q.name)
        if stream_filter is not None:
            wanted = set()
            for f in stream_filter:
                stream = self.catalog.lookup(self.catalog.name_from(None, f.get("StreamARN")))
                when = f.get("StreamCreationTimestamp")
                if stream is not None and (when is None or to_epoch_ms(when) // 1000 == stream.created_ms // 1000):
                    wanted.add(id(stream))
            queues = [q for q in queues if id(q.stream) in wanted]
        if next_token is not None:
            try:
                state = json.loads(self.catalog.pages.decode(next_token, self.now_ms()))
                after = state["after"] if state.get("kind") == _TOKEN_KIND else None
            except (ValueError, TypeError, KeyError):
                after = None
            if not isinstance(after, str):
                raise InvalidArgumentException("Invalid NextToken.")
            queues = [q for q in queues if q.name > after]
        page = max_results or 100
        out: dict = {"QueueSummaries": [q.summary() for q in queues[:page]]}
        if len(queues) > page:
            token = json.dumps({"kind": _TOKEN_KIND, "after": queues[page - 1].name})
            out["NextToken"] = self.catalog.pages.encode(token, self.now_ms())
        return out

    def update_queue(self, queue_arn, queue_attributes) -> dict:
        """boto3's UpdateQueue: new visibility timeout and/or dead-letter configuration.

        Parameters
        ----------
        queue_arn : str
        queue_attributes : dict
            As for :meth:`create_queue`; what is absent stays.

        Returns
        -------
        dict
            ``{"QueueDescription": {...}}`` (UPDATING for the engine's transition time).
        """
        if not isinstance(queue_attributes, dict):
            raise SerializationException("QueueAttributes must be a structure")
        errs: list = []
        _check_visibility(
            errs, "queueAttributes.visibilityTimeoutSeconds", queue_attributes.get("VisibilityTimeoutSeconds")
        )
        _check_dead_letter(errs, queue_attributes.get("DeadLetterConfiguration"))
        v.raise_if_any(errs)
        config = queue_attributes.get("DeadLetterConfiguration")
        dead_letter = None if config is None else _dead_letter(config)
        queue = self.queue(queue_arn)
        status = queue.status
        if status != "ACTIVE":
            raise ResourceInUseException(
                f"Queue {queue.arn} under account {self.account_id} not ACTIVE, instead in state {status}"
            )
        queue.update(
            queue_attributes.get("VisibilityTimeoutSeconds"), dead_letter, self.now_ms() + self.catalog.transition_ms
        )
        return {"QueueDescription": queue.describe()}

    def delete_queue(self, queue_arn) -> dict:
        """boto3's DeleteQueue; ``{}``.  Its receipt handles stop working at once.

        Parameters
        ----------
        queue_arn : str
        """
        queue = self.queue(queue_arn)
        with self.catalog.lock:
            queue.mark_deleting(self.now_ms() + self.catalog.transition_ms)
        self._live()
        return {}

    # -- data plane ---------------------------------------------------------------------------

    def _check_receive(self, queue_arn, limit, wait_time_seconds, visibility_timeout_seconds):
        _typed("Limit", limit, int, "an int")
        _typed("WaitTimeSeconds", wait_time_seconds, int, "an int")
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, MAX_RECEIVE_LIMIT)
        if wait_time_seconds is not None:
            v.check_int_range(errs, "waitTimeSeconds", wait_time_seconds, 1, 20)
        _check_visibility(errs, "visibilityTimeoutSeconds", visibility_timeout_seconds)
        v.raise_if_any(errs)
        return self.queue(queue_arn)

    def _receive(self, queue_arn, limit, wait_time_seconds, visibility_timeout_seconds, dead: bool, wait=True):
        queue = self._check_receive(queue_arn, limit, wait_time_seconds, visibility_timeout_seconds)
        if not wait:
            wait_time_seconds = 0
        elif wait_time_seconds is None:
            wait_time_seconds = DEFAULT_WAIT_S
        limit = limit or MAX_RECEIVE_LIMIT
        table = queue.receive_batch(limit, visibility_timeout_seconds, wait_time_seconds, dead=dead)
        return {"QueueRecords": queue_records(table)}

    def receive_without_waiting(
        self, queue_arn, limit=None, wait_time_seconds=None, visibility_timeout_seconds=None, *, dead=False
    ) -> dict | None:
        """A receive's answer if records are visible now, else None (nothing changes): a long poll's first try.

        The server answers a long poll from its event loop when records are
        there, and hands it to a thread that may wait only when they are not.

        Parameters
        ----------
        queue_arn, limit, wait_time_seconds, visibility_timeout_seconds
            As for :meth:`receive_queue_records` (all checked).
        dead : bool
            Dead letters instead.
        """
        answer = self._receive(queue_arn, limit, wait_time_seconds, visibility_timeout_seconds, dead, wait=False)
        return answer if answer["QueueRecords"] else None

    def receive_queue_records(
        self, queue_arn, limit=None, wait_time_seconds=None, visibility_timeout_seconds=None
    ) -> dict:
        """boto3's ReceiveQueueRecords: up to ``limit`` visible records, each now in flight.

        Parameters
        ----------
        queue_arn : str
        limit : int, optional
            1 to 10 (default 10).
        wait_time_seconds : int, optional
            1 to 20 (default 9): how long to wait (real time) for a record when none is visible.
        visibility_timeout_seconds : int, optional
            0 to 43,200 (default: the queue's).

        Returns
        -------
        dict
            ``{"QueueRecords": [{"ReceiptHandle", "RecordId", "PartitionKey", "Data",
            "ApproximateArrivalTimestamp", "FirstReceiveTimestamp", "ReceiveCount"}]}``.

        Raises
        ------
        ValidationException, SerializationException
            A malformed request.
        ResourceNotFoundException
            No such queue (or it is being deleted).
        InvalidArgumentException
            The queue is still CREATING.
        """
        return self._receive(queue_arn, limit, wait_time_seconds, visibility_timeout_seconds, False)

    def receive_dead_letter_queue_records(
        self, queue_arn, limit=None, wait_time_seconds=None, visibility_timeout_seconds=None
    ) -> dict:
        """boto3's ReceiveDeadLetterQueueRecords: as :meth:`receive_queue_records`, for dead letters.

        Parameters
        ----------
        queue_arn, limit, wait_time_seconds, visibility_timeout_seconds
            As for :meth:`receive_queue_records`.
        """
        return self._receive(queue_arn, limit, wait_time_seconds, visibility_timeout_seconds, True)

    def _settle(self, queue_arn, entries, action: str, dead: bool) -> dict:

        visibility = action == "visibility"
        # a list of plain dicts, each with a str handle of an allowed length (and, to change visibility, an int
        # timeout in range) has nothing to report: the per-member validation below is for the other requests
        fast = type(entries) is list and 0 < len(entries) <= MAX_ENTRIES and all(type(e) is dict for e in entries)
        if fast:
            handles = [e.get("ReceiptHandle") for e in entries]
            timeouts = [e.get("VisibilityTimeoutSeconds") for e in entries] if visibility else []
            fast = all(type(h) is str and 0 < len(h) <= 1024 for h in handles) and all(
                type(t) is int and 0 <= t <= MAX_VISIBILITY_S for t in timeouts
            )
        if not fast:
            _typed("Entries", entries, list, "a list")
            errs: list = []
            if v.check_required(errs, "entries", entries):
                v.check_length(errs, "entries", entries, 1, MAX_ENTRIES)
            v.raise_if_any(errs)
            handles, timeouts = [], []
            for i, entry in enumerate(entries, 1):
                if not isinstance(entry, dict):
                    raise SerializationException("Entries must be structures")
                handle = entry.get("ReceiptHandle")
                _typed("ReceiptHandle", handle, str, "a str")
                if v.check_required(errs, f"entries.{i}.member.receiptHandle", handle):
                    v.check_length(errs, f"entries.{i}.member.receiptHandle", handle, 1, 1024)
                if visibility:
                    t = entry.get("VisibilityTimeoutSeconds")
                    if v.check_required(errs, f"entries.{i}.member.visibilityTimeoutSeconds", t):
                        _check_visibility(errs, f"entries.{i}.member.visibilityTimeoutSeconds", t)
                    timeouts.append(t)
                handles.append(handle)
            v.raise_if_any(errs)
        queue = self.queue(queue_arn)
        queue.require_receiving()
        return settle_results(
            handles, queue.settle(handles, action, dead=dead, visibility_s=timeouts or None), queue.arn
        )

    def acknowledge_queue_records(self, queue_arn, entries) -> dict:
        """boto3's AcknowledgeQueueRecords: per entry ``Successful`` or ``Failed``.

        Parameters
        ----------
        queue_arn : str
        entries : list of dict
            1 to 10 ``{"ReceiptHandle"}``.  A handle fails when its record was acknowledged, received
            again, dead-lettered, or is of another (or deleted) queue.
        """
        return self._settle(queue_arn, entries, "ack", False)

    def update_queue_records_visibility(self, queue_arn, entries) -> dict:
        """boto3's UpdateQueueRecordsVisibility: new timeouts from now (0: visible at once).

        Parameters
        ----------
        queue_arn : str
        entries : list of dict
            1 to 10 ``{"ReceiptHandle", "VisibilityTimeoutSeconds"}``.
        """
        return self._settle(queue_arn, entries, "visibility", False)

    def acknowledge_dead_letter_queue_records(self, queue_arn, entries) -> dict:
        """boto3's AcknowledgeDeadLetterQueueRecords: discard dead letters.

        Parameters
        ----------
        queue_arn : str
        entries : list of dict
            1 to 10 ``{"ReceiptHandle"}`` from :meth:`receive_dead_letter_queue_records`.
        """
        return self._settle(queue_arn, entries, "ack", True)

    def update_dead_letter_queue_records_visibility(self, queue_arn, entries) -> dict:
        """boto3's UpdateDeadLetterQueueRecordsVisibility.

        Parameters
        ----------
        queue_arn : str
        entries : list of dict
            1 to 10 ``{"ReceiptHandle", "VisibilityTimeoutSeconds"}``.
        """
        return self._settle(queue_arn, entries, "visibility", True)

    def restore_dead_letter_queue_records(self, queue_arn, entries) -> dict:
        """boto3's RestoreDeadLetterQueueRecords: back to the normal path, receive count reset.

        Parameters
        ----------
        queue_arn : str
        entries : list of dict
            1 to 10 ``{"ReceiptHandle"}`` from :meth:`receive_dead_letter_queue_records`.
        """
        return self._settle(queue_arn, entries, "restore", True)

    def check_deletable(self, stream) -> None:
        """ResourceInUseException if ``stream`` has queues (DeleteStream refuses it).

        Parameters
        ----------
        stream : Stream
        """
        if self.count(stream):
            raise ResourceInUseException(
                f"Stream {stream.name} under account {self.account_id} has queues; delete them before you delete it."
            )
