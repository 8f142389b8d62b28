"""A stream's capacity mode, record distribution and warm throughput.

:class:`CapacityModes` is a part of :class:`~shardstream.Stream`: it owns
the stream's mode (PROVISIONED or ON_DEMAND, with Kinesis's two switches a
day), its record distribution strategy, its warm throughput, and the
on-demand scaler that watches its writes (:mod:`shardstream.ondemand`).
"""

from __future__ import annotations

from . import validation as v
from .delegate import saves_metadata
from .errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    SerializationException,
    ValidationException,
)
from .ondemand import OnDemandScaler

__all__ = ["RECORD_DISTRIBUTIONS", "STREAM_MODES", "CapacityModes"]

STREAM_MODES = ["PROVISIONED", "ON_DEMAND"]
#: Kinesis's RecordDistributionStrategy values (the model's order); USER_PARTITION_KEY is the default.
RECORD_DISTRIBUTIONS = ["AUTO", "USER_PARTITION_KEY"]


class CapacityModes:
    """The capacity mode and record distribution of one stream, and the calls that change them.

    Parameters
    ----------
    stream : Stream
    stream_mode : {"PROVISIONED", "ON_DEMAND"}
    record_distribution : {"USER_PARTITION_KEY", "AUTO"}

    Attributes
    ----------
    stream_mode : str
    warm_throughput : dict or None
        ``{"TargetMiBps", "CurrentMiBps"}`` once set.
    """

    stream_mode: str
    warm_throughput: dict | None

    def __init__(self, stream, stream_mode: str, record_distribution: str):
        self.stream = stream
        self.stream_mode = stream_mode
        self._mode_switches: list[int] = []
        self.warm_throughput: dict | None = None
        self._scaler: OnDemandScaler | None = None
        stream.set_auto_distribution(record_distribution == "AUTO")

    def to_doc(self) -> dict:
        """The modes as kept in ``stream.json``."""
        return {
            "stream_mode": self.stream_mode,
            "record_distribution": self.record_distribution,
            "mode_switches": list(self._mode_switches),
            "warm_throughput": self.warm_throughput,
        }

    def restore(self, doc: dict) -> None:
        """Take the modes of ``doc``, a ``stream.json`` document (the mode itself comes with the constructor)."""
        self._mode_switches = list(doc["mode_switches"])
        self.warm_throughput = doc["warm_throughput"]
        self.stream.set_auto_distribution(doc.get("record_distribution", "USER_PARTITION_KEY") == "AUTO")

    @saves_metadata
    def update_stream_warm_throughput(self, warm_throughput_mibps) -> dict:
        """Set an on-demand stream's warm throughput (MiB/s it can take at once without scaling).

        Needs an ON_DEMAND stream and the account's minimum throughput
        billing commitment (``Engine.update_account_settings``), as in Kinesis.
        shardstream records the target and reports it as reached.

        Parameters
        ----------
        warm_throughput_mibps : int
            The target, MiB/s (0 or more).

        Returns
        -------
        dict
            ``{"StreamARN", "StreamName", "WarmThroughput": {"TargetMiBps", "CurrentMiBps"}}``.

        Raises
        ------
        SerializationException, ValidationException
            Missing, not an int, or negative; or the stream is not ON_DEMAND.
        ResourceInUseException
            The stream is not ACTIVE.
        InvalidArgumentException
            The account's minimum throughput billing commitment is DISABLED.
        """
        errs: list = []
        if warm_throughput_mibps is None:
            errs.append(v.Violation("null", "warmThroughputMiBps", "Member must not be null"))
        elif not isinstance(warm_throughput_mibps, int) or isinstance(warm_throughput_mibps, bool):
            raise SerializationException(
                f"WarmThroughputMiBps must be an int, not {type(warm_throughput_mibps).__name__}"
            )
        else:
            v.check_int_range(errs, "warmThroughputMiBps", warm_throughput_mibps, 0, None)
        v.raise_if_any(errs)
        with self.stream.catalog.lock:
            self.stream.require_active()
            if self.stream_mode != "ON_DEMAND":
                raise ValidationException(
                    f"Request is invalid. Stream {self.stream.name} under account {self.stream.account_id} is not in "
                    "On-Demand mode."
                )
            status = self.stream.catalog.commitment_status()
            if status == "DISABLED":
                raise InvalidArgumentException(
                    "Warm throughput requires the account's minimum throughput billing commitment to be enabled."
                )
            self.warm_throughput = {"TargetMiBps": warm_throughput_mibps, "CurrentMiBps": warm_throughput_mibps}
            self.stream.begin_update()
        return {
            "StreamARN": self.stream.arn,
            "StreamName": self.stream.name,
            "WarmThroughput": dict(self.warm_throughput),
        }

    @saves_metadata
    def update_stream_mode(self, stream_mode: str) -> dict:
        """Switch between PROVISIONED and ON_DEMAND (shards stay as they are).

        On-demand streams scale out on sustained write pressure (see
        :mod:`shardstream.ondemand`) and refuse manual resharding.  At most
        two switches per rolling 24 hours, as in Kinesis.

        Parameters
        ----------
        stream_mode : {"PROVISIONED", "ON_DEMAND"}

        Returns
        -------
        dict
            ``{}`` as boto3 (also when the stream is already in that mode).

        Raises
        ------
        ValidationException
            Not a capacity mode.
        ResourceInUseException
            The stream is not ACTIVE.
        InvalidArgumentException
            PROVISIONED for a stream with AUTO record distribution.
        LimitExceededException
            Two switches already in the last 24 hours.
        """
        errs: list = []
        v.check_enum(errs, "streamModeDetails.streamMode", stream_mode, STREAM_MODES)
        v.raise_if_any(errs)
        with self.stream.catalog.lock:
            self.stream.require_active()
            if stream_mode == self.stream_mode:
                return {}
            if stream_mode == "PROVISIONED" and self.stream.catalog.queue_count(self.stream):
                raise ResourceInUseException(
                    f"Stream {self.stream.name} under account {self.stream.account_id} has queues; delete them "
                    "before you switch it to PROVISIONED."
                )
            if stream_mode == "PROVISIONED" and self.stream.auto_distribution:
                raise InvalidArgumentException(
                    f"Stream {self.stream.name} under account {self.stream.account_id} uses the AUTO record "
                    "distribution strategy, which only On-Demand streams support. Switch it to USER_PARTITION_KEY "
                    "before changing its capacity mode to PROVISIONED."
                )
            now = self.stream.now_ms()
            self._mode_switches = [t for t in self._mode_switches if t > now - 24 * 3_600_000]
            if len(self._mode_switches) >= 2:
                raise LimitExceededException(
                    f"Stream {self.stream.name} under account {self.stream.account_id} has already switched capacity "
                    "mode 2 times in the last 24 hours."
                )
            self._mode_switches.append(now)
            self.stream_mode = stream_mode
            self.configure_write_watch()
            self.stream.begin_update()
        return {}

    @property
    def record_distribution(self) -> str:
        """``"USER_PARTITION_KEY"`` (records go where their key hashes) or ``"AUTO"`` (spread evenly)."""
        return "AUTO" if self.stream.auto_distribution else "USER_PARTITION_KEY"

    @staticmethod
    def check_record_distribution(strategy) -> None:
        """SerializationException or ValidationException unless ``strategy`` is a RecordDistributionStrategy."""
        if strategy is not None and not isinstance(strategy, str):
            raise SerializationException(f"RecordDistributionStrategy must be a str, not {type(strategy).__name__}")
        errs: list = []
        if v.check_required(errs, "recordDistributionStrategy", strategy):
            v.check_enum(errs, "recordDistributionStrategy", strategy, RECORD_DISTRIBUTIONS)
        v.raise_if_any(errs)

    @staticmethod
    def on_demand_only_error(name: str, account_id: str, strategy: str) -> InvalidArgumentException:
        """Kinesis's refusal of ``strategy`` on stream ``name`` of ``account_id``, a PROVISIONED stream."""
        return InvalidArgumentException(
            f"Record distribution strategy {strategy} is only supported for On-Demand streams. "
            f"Stream {name} under account {account_id} is in PROVISIONED mode."
        )

    @saves_metadata
    def update_record_distribution_strategy(self, record_distribution_strategy) -> dict:
        """Choose how new records are placed (Kinesis's UpdateStreamRecordDistributionStrategy).

        ``"AUTO"`` deals records round-robin over the open shards, ignoring
        partition keys and explicit hash keys (which become optional; a
        keyless record is stored with an empty partition key).
        ``"USER_PARTITION_KEY"`` (the default) routes by key again.  The
        change applies to the next write; records already written stay in
        their shards.  On-demand streams only.

        Parameters
        ----------
        record_distribution_strategy : {"AUTO", "USER_PARTITION_KEY"}

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException, SerializationException
            A missing or unknown strategy.
        InvalidArgumentException
            The stream is PROVISIONED.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        self.check_record_distribution(record_distribution_strategy)
        with self.stream.catalog.lock:
            self.stream.require_active()
            if self.stream_mode != "ON_DEMAND":
                raise self.on_demand_only_error(self.stream.name, self.stream.account_id, record_distribution_strategy)
            self.stream.set_auto_distribution(record_distribution_strategy == "AUTO")
        return {}

    def configure_write_watch(self) -> None:
        """Watch the stream's writes while it is ON_DEMAND (the scaler), and stop watching otherwise."""
        if self.stream_mode == "ON_DEMAND":
            stream = self.stream
            self._scaler = OnDemandScaler(stream, stream.catalog.on_demand_scale_after_ms, stream.resharding.scale_out)
        else:
            self._scaler = None
        self.stream.watch_writes = self._scaler is not None

    def on_writes(self) -> None:
        """What the write path calls now and then on an on-demand stream: let the scaler measure."""
        if self._scaler is not None:
            self._scaler.observe()

    def check_write_pressure(self) -> bool:
        """Run the on-demand scaling check now; True if the stream scaled out."""
        return self._scaler.observe() if self._scaler is not None else False
