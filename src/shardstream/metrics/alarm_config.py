"""A metric alarm's definition as PutMetricAlarm takes it: checked with CloudWatch's errors, described in its shapes.

:meth:`AlarmConfig.from_request` checks a PutMetricAlarm request (boto3's
PascalCase names) the way CloudWatch does and raises its errors
(``MissingParameter``, ``InvalidParameterValue``,
``InvalidParameterCombination``); the :class:`AlarmConfig` it makes is
immutable: an update makes a new one.

Actions are strings.  An ``http://`` or ``https://`` URL is a webhook and
must name a loopback host (``127.0.0.1``, ``localhost``, ``::1``): alarms
never talk beyond the machine.  Anything else (an SNS topic's ARN, ...) is
accepted and becomes a log line when it fires.

Examples
--------
>>> from shardstream.metrics.alarm_config import AlarmConfig
>>> config = AlarmConfig.from_request(
...     AlarmName="lag", Namespace="AWS/Kinesis", MetricName="GetRecords.IteratorAgeMilliseconds",
...     Statistic="Maximum", Period=60, EvaluationPeriods=3, Threshold=1000,
...     ComparisonOperator="GreaterThanThreshold")
>>> config.datapoints_to_alarm, config.treat_missing_data
(3, 'missing')
>>> AlarmConfig.from_request(**{**config.request, "AlarmActions": ["http://example.com/hook"]})
Traceback (most recent call last):
...
shardstream.errors.InvalidParameterValueException: Alarm actions may only be webhooks to a loopback address ...
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from urllib.parse import urlsplit

from ..errors import (
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    MissingRequiredParameterException,
)
from .alarm_rules import COMPARISONS, TREAT_MISSING
from .registry import STATISTICS

__all__ = ["UNITS", "AlarmConfig", "is_webhook"]

#: CloudWatch's StandardUnit values.
UNITS = (
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits "
    "Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second "
    "Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second "
    "Count/Second None"
).split()
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100)$")
_MAX_ACTIONS = 5
_ONE_DAY_S = 86_400
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def is_webhook(action: str) -> bool:
    """Whether ``action`` is a URL (``http://`` or ``https://``) rather than an ARN or another name."""
    return action.lower().startswith(("http://", "https://"))


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int(name: str, value, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f"at least {low}" if high is None else f"between {low} and {high}"
        raise InvalidParameterValueException(f"The parameter {name} must be an integer {bound}, not {value!r}.")
    return value


def _text(name: str, value, high: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= high:
        raise InvalidParameterValueException(f"The parameter {name} must be a string of 1 to {high} characters.")
    return value


def _dimensions(dimensions) -> tuple:
    if dimensions is None:
        return ()
    if not isinstance(dimensions, (list, tuple)) or len(dimensions) > 30:
        raise InvalidParameterValueException("The parameter Dimensions must be a list of at most 30 dimensions.")
    out = []
    for d in dimensions:
        if not isinstance(d, dict) or "Name" not in d or "Value" not in d:
            raise MissingRequiredParameterException("Each of Dimensions needs a Name and a Value.")
        name = _text("Dimensions.member.Name", d["Name"], 255)
        out.append((name, _text("Dimensions.member.Value", d["Value"], 1024)))
    if len({name for name, _ in out}) != len(out):
        raise InvalidParameterValueException("The collection Dimensions must not contain duplicate names.")
    return tuple(out)


def _actions(name: str, actions) -> tuple:
    if actions is None:
        return ()
    if not isinstance(actions, (list, tuple)) or len(actions) > _MAX_ACTIONS:
        raise InvalidParameterValueException(f"The parameter {name} must be a list of at most {_MAX_ACTIONS} actions.")
    for action in actions:
        _text(name, action, 1024)
        if is_webhook(action) and not _loopback(action):
            raise InvalidParameterValueException(
                f"Alarm actions may only be webhooks to a loopback address (127.0.0.1, localhost, ::1); "
                f"{action} in {name} is not one."
            )
    return tuple(dict.fromkeys(actions))  # CloudWatch keeps each action once


def _statistic(statistic, extended) -> tuple[str | None, str | None]:
    if (statistic is None) == (extended is None):
        raise InvalidParameterCombinationException(
            "Exactly one element of the Statistic and ExtendedStatistic parameters must be specified."
        )
    if statistic is not None and statistic not in STATISTICS:
        raise InvalidParameterValueException(
            f"The value {statistic} for parameter Statistic is not valid: it must be one of {', '.join(STATISTICS)}."
        )
    if extended is not None and not (isinstance(extended, str) and _PERCENTILE.match(extended)):
        raise InvalidParameterValueException(
            f"The value {extended} for parameter ExtendedStatistic is not supported: shardstream's alarms take "
            "percentiles (p0 to p100)."
        )
    return statistic, extended


@dataclasses.dataclass(frozen=True)
class AlarmConfig:
    """One metric alarm's definition (see the module's documentation); make it with :meth:`from_request`.

    Parameters
    ----------
    request : dict
        The PutMetricAlarm request it was made from (PascalCase names, defaults filled in).
    name, namespace, metric_name : str
    dimensions : tuple of (str, str)
    statistic, extended_statistic : str or None
        Exactly one is set.
    period, evaluation_periods, datapoints_to_alarm : int
    threshold : float
    comparison : str
        A ComparisonOperator of :data:`~shardstream.metrics.alarm_rules.COMPARISONS`.
    treat_missing_data : str
    unit : str or None
    ok_actions, alarm_actions, insufficient_data_actions : tuple of str
    """

    request: dict
    name: str
    namespace: str
    metric_name: str
    dimensions: tuple
    statistic: str | None
    extended_statistic: str | None
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    unit: str | None
    ok_actions: tuple
    alarm_actions: tuple
    insufficient_data_actions: tuple

    @classmethod
    def from_request(cls, **request) -> AlarmConfig:
        """Check a PutMetricAlarm request (boto3's keyword arguments) and make its definition.

        Parameters
        ----------
        **request
            ``AlarmName``, ``Namespace``, ``MetricName``, ``Statistic`` or
            ``ExtendedStatistic``, ``Period``, ``EvaluationPeriods``,
            ``Threshold``, ``ComparisonOperator`` (required); ``Dimensions``,
            ``DatapointsToAlarm``, ``TreatMissingData``, ``Unit``,
            ``AlarmDescription``, ``ActionsEnabled``, ``OKActions``,
            ``AlarmActions``, ``InsufficientDataActions``,
            ``EvaluateLowSampleCountPercentile``, ``Tags``; ``Metrics`` and
            ``ThresholdMetricId`` (metric math, anomaly bands) are refused.

        Raises
        ------
        MissingRequiredParameterException, InvalidParameterValueException, InvalidParameterCombinationException
            CloudWatch's ``MissingParameter``, ``InvalidParameterValue`` and
            ``InvalidParameterCombination``.
        """
        request = {k: v for k, v in request.items() if v is not None}
        for required in ("AlarmName", "EvaluationPeriods", "ComparisonOperator"):
            if required not in request:
                raise MissingRequiredParameterException(f"The parameter {required} is required.")
        if "Metrics" in request or "ThresholdMetricId" in request:
            raise InvalidParameterValueException(
                "Metric math and anomaly detection alarms (Metrics, ThresholdMetricId) are not supported by "
                "shardstream: give Namespace, MetricName and Statistic."
            )
        for required in ("Namespace", "MetricName", "Period", "Threshold"):
            if required not in request:
                raise MissingRequiredParameterException(f"The parameter {required} is required.")
        statistic, extended = _statistic(request.get("Statistic"), request.get("ExtendedStatistic"))
        period = request["Period"]
        if (
            not isinstance(period, int)
            or isinstance(period, bool)
            or not (period in (1, 5, 10, 30) or (period > 0 and period % 60 == 0))
        ):
            raise InvalidParameterValueException("The parameter Period must be 1, 5, 10, 30, or a multiple of 60.")
        n = _int("EvaluationPeriods", request["EvaluationPeriods"], 1)
        if n * period > _ONE_DAY_S:
            raise InvalidParameterValueException(
                f"The evaluation period (EvaluationPeriods * Period) of {n * period} seconds must not exceed "
                f"{_ONE_DAY_S} seconds (one day)."
            )
        m = _int("DatapointsToAlarm", request.setdefault("DatapointsToAlarm", n), 1, n)
        threshold = request["Threshold"]
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not math.isfinite(threshold):
            raise InvalidParameterValueException(f"The parameter Threshold must be a finite number, not {threshold!r}.")
        comparison = request["ComparisonOperator"]
        if comparison not in COMPARISONS:
            raise InvalidParameterValueException(
                f"The value {comparison} for parameter ComparisonOperator is not supported: it must be one of "
                f"{', '.join(COMPARISONS)}."
            )
        treat = request.setdefault("TreatMissingData", "missing")
        if treat not in TREAT_MISSING:
            raise InvalidParameterValueException(
                f"The value {treat} for parameter TreatMissingData is not valid: it must be one of "
                f"{', '.join(TREAT_MISSING)}."
            )
        unit = request.get("Unit")
        if unit is not None and unit not in UNITS:
            raise InvalidParameterValueException(f"The value {unit} for parameter Unit is not a CloudWatch unit.")
        if request.get("EvaluateLowSampleCountPercentile") not in (None, "evaluate", "ignore"):
            raise InvalidParameterValueException("EvaluateLowSampleCountPercentile must be evaluate or ignore.")
        description = request.get("AlarmDescription", "")
        if not isinstance(description, str) or len(description) > 1024:
            raise InvalidParameterValueException("The parameter AlarmDescription must be a string of at most 1024.")
        if not isinstance(request.setdefault("ActionsEnabled", True), bool):
            raise InvalidParameterValueException("The parameter ActionsEnabled must be a boolean.")
        actions = {k: _actions(k, request.get(k)) for k in ("OKActions", "AlarmActions", "InsufficientDataActions")}
        return cls(
            request=request,
            name=_text("AlarmName", request["AlarmName"], 255),
            namespace=_text("Namespace", request["Namespace"], 255),
            metric_name=_text("MetricName", request["MetricName"], 255),
            dimensions=_dimensions(request.get("Dimensions")),
            statistic=statistic,
            extended_statistic=extended,
            period=period,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            threshold=float(threshold),
            comparison=comparison,
            treat_missing_data=treat,
            unit=unit,
            ok_actions=actions["OKActions"],
            alarm_actions=actions["AlarmActions"],
            insufficient_data_actions=actions["InsufficientDataActions"],
        )

    @property
    def stat(self) -> str:
        """The statistic evaluated: ``Statistic`` or ``ExtendedStatistic``."""
        return self.statistic or self.extended_statistic

    def breaches(self, value: float) -> bool:
        """Whether ``value`` is on the wrong side of the threshold (``value <op> Threshold``).

        Parameters
        ----------
        value : float
        """
        return COMPARISONS[self.comparison](value, self.threshold)

    def actions_for(self, state: str) -> tuple:
        """The actions of ``state`` (``OK``, ``ALARM`` or ``INSUFFICIENT_DATA``)."""
        return {"OK": self.ok_actions, "ALARM": self.alarm_actions}.get(state, self.insufficient_data_actions)

    def dimension_list(self) -> list[dict]:
        """The dimensions as CloudWatch lists them: ``[{"Name", "Value"}]``."""
        return [{"Name": k, "Value": v} for k, v in self.dimensions]

    def describe(self) -> dict:
        """The definition's fields of a ``MetricAlarm`` (DescribeAlarms' shape; the state is the registry's)."""
        out = {
            "AlarmName": self.name,
            "OKActions": list(self.ok_actions),
            "AlarmActions": list(self.alarm_actions),
            "InsufficientDataActions": list(self.insufficient_data_actions),
            "MetricName": self.metric_name,
            "Namespace": self.namespace,
            "Dimensions": self.dimension_list(),
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }
        out["Statistic" if self.statistic else "ExtendedStatistic"] = self.stat
        for key in ("AlarmDescription", "Unit", "EvaluateLowSampleCountPercentile"):
            if self.request.get(key):
                out[key] = self.request[key]
        return out

    def trigger(self) -> dict:
        """The ``Trigger`` of an alarm notification, as CloudWatch's SNS messages give it."""
        return {
            "MetricName": self.metric_name,
            "Namespace": self.namespace,
            "StatisticType": "Statistic" if self.statistic else "ExtendedStatistic",
            "Statistic": self.stat.upper() if self.statistic else self.stat,
            "Unit": self.unit,
            "Dimensions": [{"value": v, "name": k} for k, v in self.dimensions],
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "ComparisonOperator": self.comparison,
            "Threshold": self.threshold,
            "TreatMissingData": self.treat_missing_data,
            "EvaluateLowSampleCountPercentile": self.request.get("EvaluateLowSampleCountPercentile", ""),
        }
