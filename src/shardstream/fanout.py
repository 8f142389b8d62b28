"""Enhanced fan-out: registered stream consumers and SubscribeToShard, per engine.

Every :class:`~shardstream.Engine` holds one :class:`ConsumerRegistry`
(``engine.fanout``); the engine's ``register_stream_consumer``,
``describe_stream_consumer``, ``list_stream_consumers``,
``deregister_stream_consumer`` and ``subscribe_to_shard`` are thin wrappers
around it.  Rules (spec section 8):

* A consumer belongs to one stream (one incarnation of it).  Its ARN is
  ``<StreamARN>/consumer/<ConsumerName>:<creation epoch seconds>``.  It is
  ``CREATING`` for the engine's ``transition_ms`` (instant when 0), then
  ``ACTIVE``; deregistration makes it ``DELETING`` for ``transition_ms``, then
  it is gone.  Names are unique per stream; a stream holds at most 20
  consumers, at most 5 of them ``CREATING``.
* :class:`Subscription` (what ``subscribe_to_shard`` returns) pushes a
  shard's records as events.  It reads through the stream's own
  ``get_shard_iterator``/``get_records`` (the class methods, so a stream's
  optional GetRecords throttling does not apply: enhanced fan-out has its own
  throughput).  Records are pushed: with nothing to send it waits on the
  stream's write signal, so the next write wakes it at once (see
  :mod:`shardstream.subscription`); it reads again at least every
  ``poll_interval_s`` anyway, a safety net for changes that signal nothing
  (resharding).  It emits an event whenever records arrive (at most 10,000
  per event) and at least every ``heartbeat_s`` (1 s) without them.  At the end of a closed
  shard it emits a last event with ``ChildShards`` and a null
  ``ContinuationSequenceNumber`` and stops; it also stops after
  ``lifetime_s`` (5 minutes, as Kinesis).
* The consumer must be ``ACTIVE``.  Subscribing again to the same (consumer,
  shard) while a subscription is live and less than 5 s (engine clock) after
  it began raises ResourceInUseException; later, the new subscription takes
  over and the old one ends with ResourceInUseException.

``ContinuationSequenceNumber`` is where to resume with
``AFTER_SEQUENCE_NUMBER``: the last delivered record's sequence number, or,
when nothing has been delivered, the sequence number just before the
subscription's current read position -- on a shard with no records before that
position that is the shard's ``StartingSequenceNumber`` (which no record
carries), so resuming after it neither skips nor repeats a record.

Timing: the 5 s re-subscribe window and consumer status transitions follow
the engine's clock (``Engine(clock=...)``); the poll bound, heartbeats and the
subscription lifetime are real (monotonic) time.

Examples
--------
>>> from shardstream import Engine
>>> engine = Engine()
>>> stream = engine.create_stream("orders", 1)
>>> consumer = engine.register_stream_consumer(stream.arn, "app")["Consumer"]
>>> consumer["ConsumerStatus"]
'ACTIVE'
>>> _ = stream.put_record(b"hello", "k")
>>> with engine.subscribe_to_shard(
...     consumer["ConsumerARN"], "shardId-000000000000", {"Type": "TRIM_HORIZON"}
... ) as subscription:
...     event = next(subscription)
>>> [r["Data"] for r in event["Records"]]
[b'hello']
"""

from __future__ import annotations

import json
import re

from . import validation as v
from .errors import (
    DryRunOperationException,
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
)
from .models import to_epoch_ms
from .stream_consumer import StreamConsumer
from .subscription import Subscription

__all__ = [
    "CONSUMER_ARN_PATTERN",
    "MAX_CONSUMERS_PER_STREAM",
    "MAX_CREATING_CONSUMERS",
    "StreamConsumer",
    "ConsumerRegistry",
    "Subscription",
]

MAX_CONSUMERS_PER_STREAM = 20
MAX_CREATING_CONSUMERS = 5
DEFAULT_MAX_RESULTS = 100
RESUBSCRIBE_WINDOW_MS = 5_000
SUBSCRIPTION_LIFETIME_S = 300.0
POLL_INTERVAL_S = 0.1
HEARTBEAT_S = 1.0
ITERATOR_TYPES = ["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
#: The botocore model's ConsumerARN pattern.
CONSUMER_ARN_PATTERN = r"^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+"
_OWN_ARN = re.compile(r"arn:aws:kinesis:([^:]+):(\d{12}):stream/([a-zA-Z0-9_.-]+)/consumer/([a-zA-Z0-9_.-]+):(\d+)")
_TOKEN_KIND = "ListStreamConsumers"


class ConsumerRegistry:
    """The enhanced fan-out consumers of one engine, and their live subscriptions.

    Parameters
    ----------
    catalog : Catalog
        The engine's streams, clock, lock and token codecs.
    data : DataDirectory, optional
        Where a durable engine keeps the consumers (``engine.json``).

    Attributes
    ----------
    lifetime_s : float
        Default lifetime of a subscription (Kinesis: 5 minutes).
    poll_interval_s : float
        Default longest wait between two reads of a subscribed shard with nothing new (writes wake it sooner).
    heartbeat_s : float
        Default longest time between two events of a subscription.
    """

    def __init__(self, catalog, data=None):
        self.catalog = catalog
        self._data = data
        self.lock = catalog.lock
        self.account_id = catalog.account_id
        self._by_stream: dict[str, dict[str, StreamConsumer]] = {}
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self.lifetime_s = SUBSCRIPTION_LIFETIME_S
        self.poll_interval_s = POLL_INTERVAL_S
        self.heartbeat_s = HEARTBEAT_S

    def now_ms(self) -> int:
        """The engine's current time, ms since the epoch."""
        return self.catalog.now_ms()

    # -- persistence ---------------------------------------------------------------------

    def save(self) -> None:
        """Keep the registry in the engine's data directory (no-op for an in-memory engine)."""
        data = self._data
        if data is None or self.catalog.closed:
            return
        with self.lock:
            docs = [c.to_doc() for consumers in self._by_stream.values() for c in consumers.values() if not c.gone]
            data.save(consumers=docs)

    def restore(self, docs) -> None:
        """Re-register the consumers of ``docs`` (saved by :meth:`save`) whose stream (incarnation) still exists."""
        for doc in docs or ():
            stream = self.catalog.lookup(doc["stream_name"])
            if stream is None or stream.incarnation != doc["incarnation"]:
                continue
            consumer = StreamConsumer(
                self,
                name=doc["name"],
                stream_name=doc["stream_name"],
                stream_arn=doc["stream_arn"],
                incarnation=doc["incarnation"],
                created_ms=doc["created_ms"],
                status=doc["status"],
                status_until_ms=doc["status_until_ms"],
                tags=doc.get("tags"),
                resource_policy=doc.get("resource_policy"),
            )
            if not consumer.gone:
                self._by_stream.setdefault(consumer.stream_name, {})[consumer.name] = consumer

    # -- lookup --------------------------------------------------------------------------

    def _consumers_of(self, stream) -> dict[str, StreamConsumer]:
        """The live consumers of ``stream`` by name (pruning deleted ones and other incarnations')."""
        with self.lock:
            consumers = self._by_stream.get(stream.name)
            if consumers is None:
                return {}
            for name, c in list(consumers.items()):
                if c.gone or c.incarnation != stream.incarnation:
                    del consumers[name]
            if not consumers:
                del self._by_stream[stream.name]
            return consumers

    def consumers(self, stream) -> list[StreamConsumer]:
        """The registered consumers of ``stream`` (any status), by name."""
        with self.lock:
            return [c for _, c in sorted(self._consumers_of(stream).items())]

    def count(self, stream) -> int:
        """How many consumers ``stream`` has (DescribeStreamSummary's ``ConsumerCount``)."""
        with self.lock:
            return len(self._consumers_of(stream))

    def _not_found(self, what: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Consumer {what}, account {self.account_id} not found.")

    @staticmethod
    def _check_consumer_name(errs: list, consumer_name, *, required: bool) -> None:
        if consumer_name is not None and not isinstance(consumer_name, str):
            raise SerializationException(f"ConsumerName must be a str, not {type(consumer_name).__name__}")
        v.check_name(errs, "consumerName", consumer_name, required=required)

    def by_arn(self, consumer_arn: str) -> StreamConsumer:
        """The consumer ``consumer_arn`` names; ResourceNotFoundException if none (in this region and account)."""
        m = _OWN_ARN.fullmatch(consumer_arn)
        if m is None or (m.group(1), m.group(2)) != (self.catalog.region, self.account_id):
            raise self._not_found(consumer_arn)
        stream = self.catalog.lookup(m.group(3))
        with self.lock:
            consumer = None if stream is None else self._consumers_of(stream).get(m.group(4))
        if consumer is None or consumer.arn != consumer_arn:
            raise self._not_found(consumer_arn)
        return consumer

    def resolve(self, stream_arn=None, consumer_name=None, consumer_arn=None) -> StreamConsumer:
        """The consumer named by ConsumerARN, or by StreamARN + ConsumerName (all three must agree if given).

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn : str, optional
            The request's StreamARN, ConsumerName and ConsumerARN.

        Raises
        ------
        ValidationException, SerializationException
            Malformed arguments.
        InvalidArgumentException
            Neither way of naming a consumer, or arguments that disagree.
        ResourceNotFoundException
            No such stream or consumer.
        """
        errs: list = []
        if consumer_arn is not None:
            check_consumer_arn(errs, consumer_arn)
        self._check_consumer_name(errs, consumer_name, required=False)
        v.raise_if_any(errs)
        if consumer_arn is not None:
            consumer = self.by_arn(consumer_arn)
            if stream_arn is not None and stream_arn != consumer.stream_arn:
                raise InvalidArgumentException(f"ConsumerARN {consumer_arn} is not a consumer of stream {stream_arn}")
            if consumer_name is not None and consumer_name != consumer.name:
                raise InvalidArgumentException(
                    f"ConsumerARN {consumer_arn} and ConsumerName {consumer_name} do not name the same consumer"
                )
            return consumer
        if stream_arn is None or consumer_name is None:
            raise InvalidArgumentException(
                "ConsumerARN or both ConsumerName and StreamARN are required for this request."
            )
        stream = self.catalog.stream(stream_arn=stream_arn)
        with self.lock:
            consumer = self._consumers_of(stream).get(consumer_name)
        if consumer is None:
            raise self._not_found(consumer_name)
        return consumer

    # -- the registry operations ------------------------------------------------------------

    def register_stream_consumer(self, stream_arn, consumer_name, tags: dict | None = None) -> dict:
        """boto3's RegisterStreamConsumer: register an enhanced fan-out consumer of a stream.

        Parameters
        ----------
        stream_arn : str
        consumer_name : str
            1-128 characters of ``[a-zA-Z0-9_.-]``, unique among the stream's consumers.
        tags : dict, optional
            The consumer's tags (as for streams; see :meth:`tag_resource`).

        Returns
        -------
        dict
            ``{"Consumer": {"ConsumerName", "ConsumerARN", "ConsumerStatus",
            "ConsumerCreationTimestamp"}}``; the ARN is
            ``<StreamARN>/consumer/<ConsumerName>:<creation epoch seconds>``.
            The consumer is CREATING for the engine's ``transition_ms``, then
            ACTIVE (at once when it is 0).

        Raises
        ------
        ValidationException, SerializationException, InvalidArgumentException
            A malformed name, ARN or tags.
        ResourceNotFoundException
            No such stream.
        ResourceInUseException
            The name is taken, or the stream is not ACTIVE (or UPDATING).
        LimitExceededException
            The stream has 20 consumers, or 5 CREATING.
        """
        errs: list = []
        if stream_arn is not None and not isinstance(stream_arn, str):
            raise SerializationException(f"StreamARN must be a str, not {type(stream_arn).__name__}")
        v.check_required(errs, "streamARN", stream_arn)
        self._check_consumer_name(errs, consumer_name, required=True)
        v.raise_if_any(errs)
        stream = self.catalog.stream(stream_arn=stream_arn)
        with self.lock:
            self.catalog.check_open()
            status = stream.status
            if status not in ("ACTIVE", "UPDATING"):
                raise ResourceInUseException(
                    f"Stream {stream.name} under account {self.account_id} not ACTIVE, instead in state {status}"
                )
            consumers = self._consumers_of(stream)
            if consumer_name in consumers:
                raise ResourceInUseException(f"Consumer {consumer_name} under stream {stream.name} already exists.")
            if len(consumers) + self.catalog.queue_count(stream) >= MAX_CONSUMERS_PER_STREAM:
                raise LimitExceededException(
                    f"Only {MAX_CONSUMERS_PER_STREAM} consumers can be registered to a stream at once"
                )
            if sum(c.status == "CREATING" for c in consumers.values()) >= MAX_CREATING_CONSUMERS:
                raise LimitExceededException(f"Only {MAX_CREATING_CONSUMERS} consumers can be created at the same time")
            now = self.now_ms()
            delay = self.catalog.transition_ms
            consumer = StreamConsumer(  # checks the tags before anything changes
                self,
                name=consumer_name,
                stream_name=stream.name,
                stream_arn=stream.arn,
                incarnation=stream.incarnation,
                created_ms=now,
                status="CREATING" if delay else "ACTIVE",
                status_until_ms=now + delay,
                tags=tags,
            )
            self._by_stream.setdefault(stream.name, {})[consumer_name] = consumer
            self.save()
            return {"Consumer": consumer.describe()}

    def describe_stream_consumer(self, stream_arn=None, consumer_name=None, consumer_arn=None) -> dict:
        """boto3's DescribeStreamConsumer: ``{"ConsumerDescription": {..., "StreamARN"}}``.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn : str, optional
            The consumer, by ``consumer_arn`` or by ``stream_arn`` and ``consumer_name``; when more are
            given they must agree (InvalidArgumentException otherwise).  ResourceNotFoundException if none.
        """
        return {"ConsumerDescription": self.resolve(stream_arn, consumer_name, consumer_arn).description()}

    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        *,
        stream_creation_timestamp=None,
    ) -> dict:
        """boto3's ListStreamConsumers: ``{"Consumers": [...], "NextToken": ...}`` in name order.

        Parameters
        ----------
        stream_arn : str
        next_token : str, optional
            From the previous page (valid five minutes); the same ``stream_arn``
            must be given with it.
        max_results : int, optional
            1 to 10,000 per page (default 100).
        stream_creation_timestamp : datetime or float, optional
            Must match the stream's creation time (ResourceNotFoundException otherwise).
        """
        errs: list = []
        if stream_arn is not None and not isinstance(stream_arn, str):
            raise SerializationException(f"StreamARN must be a str, not {type(stream_arn).__name__}")
        if max_results is not None and (not isinstance(max_results, int) or isinstance(max_results, bool)):
            raise SerializationException(f"MaxResults must be an int, not {type(max_results).__name__}")
        if max_results is not None:
            v.check_int_range(errs, "maxResults", max_results, 1, 10_000)
        if next_token is not None:
            if not isinstance(next_token, str):
                raise SerializationException(f"NextToken must be a str, not {type(next_token).__name__}")
            v.check_length(errs, "nextToken", next_token, 1, 1_048_576)
        v.check_required(errs, "streamARN", stream_arn)
        v.raise_if_any(errs)
        stream = self.catalog.stream(stream_arn=stream_arn)
        if stream_creation_timestamp is not None:
            try:
                given = to_epoch_ms(stream_creation_timestamp)
            except TypeError as exc:
                raise SerializationException(str(exc)) from None
            if not (given == stream.created_ms or (given % 1000 == 0 and given // 1000 == stream.created_ms // 1000)):
                raise self.catalog.not_found(stream.name)
        after = None
        if next_token is not None:
            text = self.catalog.pages.decode(next_token, self.now_ms())
            try:
                state = json.loads(text)
                valid = (
                    isinstance(state, dict)
                    and state.get("kind") == _TOKEN_KIND
                    and state.get("stream") == stream.name
                    and state.get("incarnation") == stream.incarnation
                    and isinstance(state.get("after"), str)
                )
            except ValueError:
                valid = False
            if not valid:
                raise InvalidArgumentException("Invalid NextToken.")
            after = state["after"]
        consumers = [c for c in self.consumers(stream) if after is None or c.name > after]
        page = max_results or DEFAULT_MAX_RESULTS
        out: dict = {"Consumers": [c.describe() for c in consumers[:page]]}
        if len(consumers) > page:
            state = {
                "kind": _TOKEN_KIND,
                "stream": stream.name,
                "incarnation": stream.incarnation,
                "after": consumers[page - 1].name,
            }
            out["NextToken"] = self.catalog.pages.encode(json.dumps(state), self.now_ms())
        return out

    def deregister_stream_consumer(self, stream_arn=None, consumer_name=None, consumer_arn=None) -> dict:
        """boto3's DeregisterStreamConsumer; ``{}``.

        The consumer is DELETING for the engine's ``transition_ms``, then gone;
        its subscriptions end at once with ResourceInUseException.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn : str, optional
            As for :meth:`describe_stream_consumer`.
        """
        consumer = self.resolve(stream_arn, consumer_name, consumer_arn)
        with self.lock:
            self._remove(consumer)
            self.save()
        return {}

    def _remove(self, consumer: StreamConsumer) -> None:
        """DELETING for the engine's transition time (gone at once if 0); its subscriptions end."""
        consumer.mark_deleting(self.now_ms() + self.catalog.transition_ms)
        if consumer.gone:
            consumers = self._by_stream.get(consumer.stream_name, {})
            if consumers.get(consumer.name) is consumer:
                del consumers[consumer.name]
        error = ResourceInUseException(
            f"Consumer {consumer.arn} under account {self.account_id} not ACTIVE, instead in state DELETING"
        )
        for key, sub in list(self._subscriptions.items()):
            if key[0] == consumer.arn:
                sub.terminate(error)

    def drop_stream(self, stream) -> None:
        """Deregister every consumer of ``stream`` (DeleteStream with EnforceConsumerDeletion)."""
        with self.lock:
            for consumer in list(self._consumers_of(stream).values()):
                self._remove(consumer)
            self._by_stream.pop(stream.name, None)
            self.save()

    # -- subscriptions --------------------------------------------------------------------

    def subscribe_to_shard(
        self,
        consumer_arn,
        shard_id,
        starting_position,
        *,
        wire: bool = False,
        lifetime_s: float | None = None,
        poll_interval_s: float | None = None,
        heartbeat_s: float | None = None,
        dry_run: bool = False,
    ) -> Subscription:
        """boto3's SubscribeToShard, embedded: a live feed of a shard's records.

        Parameters
        ----------
        consumer_arn : str
            An ACTIVE consumer of the stream.
        shard_id : str
        starting_position : dict
            ``{"Type": ..., "SequenceNumber": ..., "Timestamp": ...}`` with the
            iterator types of :meth:`Stream.get_shard_iterator`.
        wire : bool
            Records in the JSON wire shape (``Data`` base64 text,
            ``ApproximateArrivalTimestamp`` epoch seconds), as the server sends them.
        lifetime_s : float, optional
            When the subscription ends (default ``engine.fanout.lifetime_s``, 300 s).
        poll_interval_s : float, optional
            Longest wait between two reads while the shard has nothing new
            (default 0.1 s); a write to the stream wakes the subscription at once.
        heartbeat_s : float, optional
            Longest time between events (default 1 s).
        dry_run : bool
            Make every check (consumer ACTIVE, shard and starting position
            valid, no recent subscription of the consumer to the shard) and
            start nothing: DryRunOperationException if the call would succeed.

        Returns
        -------
        Subscription
            An iterator and async iterator of events ``{"Records": [...],
            "ContinuationSequenceNumber": ..., "MillisBehindLatest": ...}``
            (plus ``ChildShards``, with a None continuation, as the last event of
            a closed shard).  Close it (or use it in ``with``) to end it early.
            See :mod:`shardstream.fanout`.

        Raises
        ------
        ResourceNotFoundException
            No such consumer or shard.
        ResourceInUseException
            The consumer is not ACTIVE, or the same consumer subscribed to the
            same shard less than 5 seconds ago and that subscription is live.
        InvalidArgumentException, ValidationException
            A bad starting position (as for GetShardIterator).
        DryRunOperationException
            ``dry_run`` and the subscription would have started.
        """
        kind, sequence_number, timestamp = check_subscribe_request(
            consumer_arn, shard_id, starting_position, lifetime_s, poll_interval_s, heartbeat_s
        )
        consumer = self.by_arn(consumer_arn)
        status = consumer.status
        if status != "ACTIVE":
            raise ResourceInUseException(
                f"Consumer {consumer.arn} under account {self.account_id} not ACTIVE, instead in state {status}"
            )
        stream = self.catalog.lookup(consumer.stream_name)
        if stream is None or stream.incarnation != consumer.incarnation:
            raise self._not_found(consumer_arn)
        # the stream's own reads: enhanced fan-out is not subject to GetRecords throttling
        reads = stream.reads
        token = reads.get_shard_iterator(shard_id, kind, sequence_number, timestamp)["ShardIterator"]
        start = self.catalog.iterators.decode(token, self.now_ms())
        shard = stream.shards[start.shard_index]
        with self.lock:
            if consumer.status != "ACTIVE":  # deregistered meanwhile
                raise ResourceInUseException(
                    f"Consumer {consumer.arn} under account {self.account_id} not ACTIVE, "
                    f"instead in state {consumer.status}"
                )
            key = (consumer.arn, shard.shard_id)
            now = self.now_ms()
            old = self._subscriptions.get(key)
            error = ResourceInUseException(
                f"Another active subscription exists for consumer {consumer.arn} on shard {shard.shard_id}"
            )
            dims = {"StreamName": stream.name, "ConsumerName": consumer.name}
            if old is not None and old.live:
                if now - old.started_ms < RESUBSCRIBE_WINDOW_MS:
                    self.catalog.metrics.record("SubscribeToShard.RateExceeded", dims, 1, unit="Count")
                    raise error
                if not dry_run:  # a dry run leaves the old subscription running
                    old.terminate(error)
            if dry_run:
                subscription = None
            else:
                subscription = Subscription(
                    self,
                    consumer,
                    stream,
                    shard,
                    token,
                    start.position,
                    wire=wire,
                    started_ms=now,
                    lifetime_s=self.lifetime_s if lifetime_s is None else float(lifetime_s),
                    poll_interval_s=self.poll_interval_s if poll_interval_s is None else float(poll_interval_s),
                    heartbeat_s=self.heartbeat_s if heartbeat_s is None else float(heartbeat_s),
                )
                self._subscriptions[key] = subscription
        if subscription is None:
            raise DryRunOperationException()
        self.catalog.metrics.record("SubscribeToShard.Success", dims, 1, unit="Count")
        return subscription

    def release(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (it ended), unless a newer one has taken its place.

        Parameters
        ----------
        subscription : Subscription
        """
        with self.lock:
            key = (subscription.consumer_arn, subscription.shard_id)
            if self._subscriptions.get(key) is subscription:
                del self._subscriptions[key]

    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions."""
        with self.lock:
            return [s for s in self._subscriptions.values() if s.live]

    def end_all(self) -> None:
        """End every subscription (the engine is closing)."""
        with self.lock:
            subscriptions = list(self._subscriptions.values())
        for subscription in subscriptions:
            subscription.close()


def check_subscribe_request(consumer_arn, shard_id, starting_position, lifetime_s, poll_interval_s, heartbeat_s):
    """Check a SubscribeToShard request; return the starting position's ``(Type, SequenceNumber, Timestamp)``.

    Parameters
    ----------
    consumer_arn, shard_id, starting_position, lifetime_s, poll_interval_s, heartbeat_s
        The request's members and the subscription's timings (seconds; None for the default).

    Raises
    ------
    SerializationException, ValidationException
        A member of the wrong type or shape, as Kinesis words it.
    InvalidArgumentException
        A timing that is not positive.
    """
    errs: list = []
    if consumer_arn is not None and not isinstance(consumer_arn, str):
        raise SerializationException(f"ConsumerARN must be a str, not {type(consumer_arn).__name__}")
    if v.check_required(errs, "consumerARN", consumer_arn):
        check_consumer_arn(errs, consumer_arn)
    if shard_id is not None and not isinstance(shard_id, str):
        raise SerializationException(f"ShardId must be a str, not {type(shard_id).__name__}")
    v.check_name(errs, "shardId", shard_id)
    if starting_position is not None and not isinstance(starting_position, dict):
        raise SerializationException("StartingPosition must be a structure")
    kind = sequence_number = timestamp = None
    if v.check_required(errs, "startingPosition", starting_position):
        kind = starting_position.get("Type")
        sequence_number = starting_position.get("SequenceNumber")
        timestamp = starting_position.get("Timestamp")
        if v.check_required(errs, "startingPosition.type", kind):
            v.check_enum(errs, "startingPosition.type", kind, ITERATOR_TYPES)
        if sequence_number is not None:
            if not isinstance(sequence_number, str):
                raise SerializationException("SequenceNumber must be a str")
            v.check_pattern(errs, "startingPosition.sequenceNumber", sequence_number, v.SEQUENCE_NUMBER_PATTERN)
    v.raise_if_any(errs)
    timings = {"lifetime_s": lifetime_s, "poll_interval_s": poll_interval_s, "heartbeat_s": heartbeat_s}
    for name, value in timings.items():
        if value is not None and not value > 0:
            raise InvalidArgumentException(f"{name} must be positive")
    return kind, sequence_number, timestamp


def check_consumer_arn(errs: list, consumer_arn) -> None:
    """Add a malformed ``consumer_arn``'s violations to ``errs`` (SerializationException if not a str)."""
    if consumer_arn is not None and not isinstance(consumer_arn, str):
        raise SerializationException(f"ConsumerARN must be a str, not {type(consumer_arn).__name__}")
    v.check_length(errs, "consumerARN", consumer_arn, 1, 2048)
    v.check_pattern(errs, "consumerARN", consumer_arn, CONSUMER_ARN_PATTERN)
