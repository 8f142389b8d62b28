"""Catalog: the streams of one engine, and the engine-wide facts its parts consult.

The :class:`~shardstream.Engine` owns one :class:`Catalog` and hands it to
every stream, to the fan-out registry and to its operation families, so that
none of them needs the engine itself (the import graph runs one way: engine
-> streams -> catalog).  The catalog owns the engine's control-plane lock:
creating, deleting, resharding and re-configuring streams serialise on it;
data-plane calls (puts, reads) never take it.
"""

from __future__ import annotations

import threading

from . import validation as v
from ._native import system_now_ms
from .errors import InvalidArgumentException, LimitExceededException, ResourceNotFoundException
from .iterators import IteratorCodec, PageTokenCodec
from .metrics.alarms import AlarmRegistry
from .metrics.registry import MetricRegistry, clock_ms
from .metrics.sampler import MetricSampler
from .queue_handles import HandleCodec

__all__ = ["Catalog"]


class Catalog:
    """The streams of one engine by name, with the engine's settings, clock, lock and token codecs.

    Parameters
    ----------
    region, account_id : str
        Named in ARNs and error messages.
    shard_limit : int or None
        Most open shards across all live streams (None: no limit).
    clock : callable or None
        Returns ms since the epoch (None: the system clock).  A clock with a
        ``subscribe(callback)`` method (:class:`shardstream.clock.ManualClock`)
        is told to call :meth:`time_moved` whenever it moves.
    transition_ms : int
        How long CREATING, UPDATING and DELETING last.
    on_demand_scale_after_ms : int
        How long an on-demand stream's writes must stay high before it scales out.
    secret : bytes
        Signs shard iterators, page tokens and receipt handles.

    Attributes
    ----------
    lock : threading.RLock
        The control-plane lock.
    iterators : IteratorCodec
        Makes and checks shard iterators.
    pages : PageTokenCodec
        Makes and checks the NextTokens of listings.
    receipts : HandleCodec
        Makes and checks the receipt handles of queue deliveries.
    consumers : object or None
        The engine's fan-out registry once the engine made one (anything with
        ``count(stream)``): a stream's description reports its consumer count.
    queues : object or None
        The engine's queue registry (anything with ``count(stream)``): queues
        count against a stream's consumer limit and keep it from being deleted.
    metrics : MetricRegistry
        The engine's metrics (:mod:`shardstream.metrics`).
    sampler : MetricSampler
        Samples the core's counters into ``metrics`` once a second, then evaluates ``alarms``.
    alarms : AlarmRegistry
        The engine's CloudWatch alarms on ``metrics``.
    keys : KeyStore or None
        The engine's local key store (:mod:`shardstream.keys`): what
        StartStreamEncryption checks key ids against and durable streams encrypt with.
    commitment_status : callable
        The account's minimum throughput billing commitment status
        (``"ENABLED"``, ``"DISABLED"``, ...); warm throughput needs it.
    closed : bool
        The engine was closed: nothing new may be created.
    """

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        shard_limit: int | None,
        clock,
        transition_ms: int,
        on_demand_scale_after_ms: int,
        secret: bytes,
    ):
        self.region = region
        self.account_id = account_id
        self.shard_limit = shard_limit
        self.clock = clock
        self.transition_ms = int(transition_ms)
        self.on_demand_scale_after_ms = int(on_demand_scale_after_ms)
        self.lock = threading.RLock()
        self.iterators = IteratorCodec(secret)
        self.pages = PageTokenCodec(secret)
        self.receipts = HandleCodec(secret)
        self.consumers = None
        self.queues = None
        self.keys = None
        self.commitment_status = lambda: "DISABLED"
        self.closed = False
        self._streams: dict = {}
        self.metrics = MetricRegistry(clock_ms(clock))  # not self.now_ms: the sampler must not hold the catalog
        self.sampler = MetricSampler(self, self.metrics)
        self.alarms = AlarmRegistry(
            self.metrics, clock_ms(clock), region=region, account_id=account_id, on_put=self.sampler.start
        )
        self.sampler.after_each(self.alarms.evaluate)  # once a second, after the metrics' own look
        if hasattr(clock, "subscribe"):  # a clock that says when it moves (shardstream.clock.ManualClock)
            clock.subscribe(self.time_moved)

    def time_moved(self) -> None:
        """Wake every wait measured on the engine's clock (queue long polls): time moved."""
        for stream in list(self._streams.values()):
            stream.writes.notify()

    def now_ms(self) -> int:
        """The engine's current time, ms since the epoch."""
        return system_now_ms() if self.clock is None else int(self.clock())

    def check_open(self) -> None:
        """ValueError once the engine is closed."""
        if self.closed:
            raise ValueError("the engine is closed")

    # -- the streams ---------------------------------------------------------------

    def add(self, stream) -> None:
        """Enter ``stream``, new or restored, under its name (the caller holds :attr:`lock`).

        The metric sampler counts what it appends from now on (and starts looking once a second).

        Parameters
        ----------
        stream : Stream
        """
        self._streams[stream.name] = stream
        self.sampler.watch(stream)
        self.sampler.start()

    def remove(self, name: str) -> None:
        """Forget the stream called ``name`` (the caller holds :attr:`lock`)."""
        self._streams.pop(name, None)

    def __len__(self) -> int:
        return len(self._streams)

    def all(self) -> list:
        """Every stream the catalog holds, deleted ones still settling included."""
        return list(self._streams.values())

    def lookup(self, name: str):
        """The stream called ``name`` unless it is missing or its deletion has completed."""
        s = self._streams.get(name)
        if s is not None and s.gone:
            with self.lock:
                if self._streams.get(name) is s:
                    del self._streams[name]
            return None
        return s

    def live(self) -> list:
        """The streams not deleted (or still DELETING), in no particular order."""
        return [s for s in list(self._streams.values()) if self.lookup(s.name) is s]

    def not_found(self, name: str) -> ResourceNotFoundException:
        """Kinesis's ResourceNotFoundException for a stream called ``name`` that does not exist."""
        return ResourceNotFoundException(f"Stream {name} under account {self.account_id} not found.")

    def name_from(self, stream_name, stream_arn) -> str:
        """The stream a StreamName / StreamARN pair names (the ARN wins; they must agree).

        Parameters
        ----------
        stream_name : str or None
            The StreamName.
        stream_arn : str or None
            The StreamARN: ``arn:aws:kinesis:<region>:<account>:stream/<name>`` of this engine.

        Returns
        -------
        str
            The stream's name (not checked to exist).

        Raises
        ------
        InvalidArgumentException
            Neither given, an ARN of another region or account, or the two disagree.
        ValidationException
            A malformed name.
        """
        if stream_arn is not None:
            prefix = f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/"
            if not isinstance(stream_arn, str) or not stream_arn.startswith(prefix):
                raise InvalidArgumentException(f"Invalid StreamARN {stream_arn}")
            name = stream_arn[len(prefix) :]
            if stream_name is not None and stream_name != name:
                raise InvalidArgumentException(
                    f"StreamARN {stream_arn} and StreamName {stream_name} do not name the same stream"
                )
            return name
        if stream_name is None:
            raise InvalidArgumentException("Neither streamArn or streamName was provided")
        errs: list = []
        v.check_name(errs, "streamName", stream_name)
        v.raise_if_any(errs)
        return stream_name

    def stream(self, name: str | None = None, *, stream_arn: str | None = None):
        """The live stream called ``name`` (or identified by ``stream_arn``).

        Parameters
        ----------
        name : str or None
            The stream's name.
        stream_arn : str or None
            Its ARN (wins over ``name``; the two must agree).

        Raises
        ------
        ResourceNotFoundException
            No such stream.
        InvalidArgumentException, ValidationException
            As :meth:`name_from`.
        """
        name = self.name_from(name, stream_arn)
        s = self.lookup(name)
        if s is None:
            raise self.not_found(name)
        return s

    # -- the account's shard limit ---------------------------------------------------

    def open_shard_total(self) -> int:
        """Open shards across all live streams (what the account shard limit counts)."""
        return sum(s.open_shard_count for s in self.live())

    def shard_headroom(self) -> int | None:
        """How many more shards may open under the account's limit (None: no limit)."""
        if self.shard_limit is None:
            return None
        return max(0, self.shard_limit - self.open_shard_total())

    def check_shard_limit(self, additional: int) -> None:
        """LimitExceededException if ``additional`` more open shards would pass the account's shard limit."""
        if self.shard_limit is None:
            return
        open_now = self.open_shard_total()
        if open_now + additional > self.shard_limit:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {self.account_id} in "
                f"{self.region}. Current shard count for the account: {open_now}. Limit: {self.shard_limit}. "
                f"Number of additional shards that would have resulted from this request: {additional}. "
                "Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
                "for current limits and how to request higher limits."
            )

    def consumer_count(self, stream) -> int:
        """How many enhanced fan-out consumers ``stream`` has (0 before the registry exists)."""
        return 0 if self.consumers is None else self.consumers.count(stream)

    def queue_count(self, stream) -> int:
        """How many queues ``stream`` has (0 before the registry exists)."""
        return 0 if self.queues is None else self.queues.count(stream)
