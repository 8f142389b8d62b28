"""Account settings: the minimum throughput billing commitment (DescribeAccountSettings, UpdateAccountSettings).

The commitment is stored (in a durable engine's ``engine.json``) and echoed,
and warm throughput requires it, as in Kinesis; it changes no other behaviour.
"""

from __future__ import annotations

from . import validation as v
from .errors import SerializationException, storage_error
from .models import ms_to_datetime

__all__ = ["AccountSettings", "BILLING_COMMITMENT_STATUSES", "MIN_BILLING_COMMITMENT_MS"]

BILLING_COMMITMENT_STATUSES = ["ENABLED", "DISABLED"]
MIN_BILLING_COMMITMENT_MS = 24 * 3_600_000


class AccountSettings:
    """The account-level settings of one engine.

    Parameters
    ----------
    now_ms : callable
        The engine's clock.
    lock : threading.RLock
        The engine's control-plane lock: ``engine.json`` is written under it
        (the fan-out registry writes there too).
    data : DataDirectory, optional
        Where a durable engine keeps the commitment (``engine.json``).
    """

    def __init__(self, now_ms, lock, data=None):
        self._now_ms = now_ms
        self._data = data
        self._lock = lock
        self._commitment: dict = {"Status": "DISABLED"} if data is None else dict(data.doc["billing_commitment"])

    def commitment_status(self) -> str:
        """The commitment's status now: ``ENABLED``, ``ENABLED_UNTIL_EARLIEST_ALLOWED_END`` or ``DISABLED``."""
        return self.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"]

    def describe_account_settings(self) -> dict:
        """boto3's DescribeAccountSettings: ``{"MinimumThroughputBillingCommitment": {"Status", ...}}``.

        The commitment is stored and echoed only; it changes no behaviour.
        """
        with self._lock:
            commitment = dict(self._commitment)
            end = commitment.get("EarliestAllowedEndAt")
            if commitment["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" and self._now_ms() >= end:
                commitment = {"Status": "DISABLED", "StartedAt": commitment["StartedAt"], "EndedAt": end}
                self._commitment = dict(commitment)
        return {"MinimumThroughputBillingCommitment": _commitment_view(commitment)}

    def update_account_settings(self, minimum_throughput_billing_commitment: dict) -> dict:
        """boto3's UpdateAccountSettings: enable or disable the minimum throughput billing commitment.

        Parameters
        ----------
        minimum_throughput_billing_commitment : dict
            ``{"Status": "ENABLED" | "DISABLED"}``.

        Returns
        -------
        dict
            ``{"MinimumThroughputBillingCommitment": {"Status", "StartedAt", "EndedAt",
            "EarliestAllowedEndAt"}}`` (the times that apply).  A commitment lasts at
            least 24 hours: disabling it earlier gives ``ENABLED_UNTIL_EARLIEST_ALLOWED_END``.

        Raises
        ------
        SerializationException
            Not a structure.
        ValidationException
            A missing or unknown Status.
        """
        given = minimum_throughput_billing_commitment
        if given is not None and not isinstance(given, dict):
            raise SerializationException("MinimumThroughputBillingCommitment must be a structure")
        errs: list = []
        if v.check_required(errs, "minimumThroughputBillingCommitment", given):
            status = given.get("Status")
            if v.check_required(errs, "minimumThroughputBillingCommitment.status", status):
                v.check_enum(errs, "minimumThroughputBillingCommitment.status", status, BILLING_COMMITMENT_STATUSES)
        v.raise_if_any(errs)
        self.describe_account_settings()  # settle an expired early-disable first
        now = self._now_ms()
        with self._lock:
            current = self._commitment
            enabled = current["Status"] != "DISABLED"
            if status == "ENABLED":
                if current["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END":  # resume the running commitment
                    current = {k: val for k, val in current.items() if k != "EndedAt"}
                    current["Status"] = "ENABLED"
                elif current["Status"] == "DISABLED":
                    current = {
                        "Status": "ENABLED",
                        "StartedAt": now,
                        "EarliestAllowedEndAt": now + MIN_BILLING_COMMITMENT_MS,
                    }
            elif enabled:
                earliest = current["EarliestAllowedEndAt"]
                if now < earliest:
                    current = {**current, "Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END", "EndedAt": earliest}
                else:
                    current = {"Status": "DISABLED", "StartedAt": current["StartedAt"], "EndedAt": now}
            self._commitment = dict(current)
            if self._data is not None:
                try:
                    self._data.save(billing_commitment=self._commitment)
                except OSError as exc:
                    raise storage_error(exc) from exc
        return {"MinimumThroughputBillingCommitment": _commitment_view(current)}


def _commitment_view(commitment: dict) -> dict:
    """A stored billing commitment with its times as datetimes."""
    return {k: (val if k == "Status" else ms_to_datetime(val)) for k, val in commitment.items()}
