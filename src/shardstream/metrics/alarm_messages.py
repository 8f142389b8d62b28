"""The words of an alarm's state change, as CloudWatch writes them: reason, reason data, notification.

* :func:`reason`: ``StateReason``, e.g. ``Threshold Crossed: 1 out of the last
  1 datapoint [5000.0 (14/11/23 22:13:00)] was greater than the threshold
  (1000.0) (minimum 1 datapoint for OK -> ALARM transition).``;
* :func:`reason_data`: ``StateReasonData`` (the statistic, period, threshold
  and the datapoints evaluated);
* :func:`notification`: the message CloudWatch publishes to an alarm's SNS
  actions (``AlarmName``, ``NewStateValue``, ``OldStateValue``,
  ``NewStateReason``, ``StateChangeTime``, ``Trigger``, ...), which
  shardstream POSTs to webhooks and hands to callbacks.

Examples
--------
>>> from shardstream.metrics.alarm_messages import iso
>>> iso(1_700_000_000_123)
'2023-11-14T22:13:20.123+0000'
"""

from __future__ import annotations

import datetime as _dt

from .alarm_rules import ALARM, INSUFFICIENT_DATA

__all__ = ["iso", "notification", "reason", "reason_data"]

_OP_TEXT = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def iso(ms: int) -> str:
    """``ms`` (epoch) as CloudWatch's messages write times: ``2023-11-14T22:13:20.000+0000``."""
    moment = _dt.datetime.fromtimestamp(ms // 1000, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def _short(second: int) -> str:
    return _dt.datetime.fromtimestamp(second, tz=_dt.timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def reason(config, verdict, starts, old: str) -> str:
    """The ``StateReason`` of an evaluation that moved an alarm from ``old`` to ``verdict.state``.

    Parameters
    ----------
    config : AlarmConfig
    verdict : Verdict
        What :func:`~shardstream.metrics.alarm_rules.decide` concluded.
    starts : list of int
        The evaluation range's period starts (epoch seconds), oldest first.
    old : str
        The state before.
    """
    n, m = config.evaluation_periods, config.datapoints_to_alarm
    real = len(verdict.evaluated)
    if verdict.state == INSUFFICIENT_DATA:
        unknown = n - real
        return f"Insufficient Data: {_plural(unknown, 'datapoint')} {'was' if unknown == 1 else 'were'} unknown."
    points = ", ".join(f"{v} ({_short(starts[i])})" for i, v in reversed(verdict.evaluated))
    filled = ""
    if verdict.filled in ("breaching", "notBreaching") and real < n:
        filled = f" with {_plural(n - real, 'missing datapoint')} treated as {verdict.filled}"
    op = _OP_TEXT[config.comparison]
    if verdict.state == ALARM:
        count, verb, minimum = verdict.breaching, op, m
    else:
        whole = real if verdict.filled == "unknown" else n
        count, verb, minimum = whole - verdict.breaching, f"not {op}", n - m + 1
    return (
        f"Threshold Crossed: {count} out of the last {_plural(n, 'datapoint')} [{points}]{filled} "
        f"{'was' if count == 1 else 'were'} {verb} the threshold ({config.threshold}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {old} -> {verdict.state} transition)."
    )


def reason_data(config, verdict, starts, now_ms: int) -> dict:
    """The ``StateReasonData`` of an evaluation (as JSON-ready dict).

    Parameters
    ----------
    config : AlarmConfig
    verdict : Verdict
    starts : list of int
        The evaluation range's period starts (epoch seconds), oldest first.
    now_ms : int
        When it was evaluated.
    """
    return {
        "version": "1.0",
        "queryDate": iso(now_ms),
        "startDate": iso(starts[0] * 1000),
        "statistic": config.stat,
        "period": config.period,
        "recentDatapoints": [v for _, v in verdict.evaluated],
        "threshold": config.threshold,
        "evaluatedDatapoints": [
            {"timestamp": iso(starts[i] * 1000), "value": v} for i, v in reversed(verdict.evaluated)
        ],
    }


def notification(config, arn: str, region: str, account_id: str, config_ms: int, old: str, new: str, why: str, at_ms):
    """CloudWatch's alarm message for a change from ``old`` to ``new``.

    Parameters
    ----------
    config : AlarmConfig
    arn, region, account_id : str
        The alarm's ARN and where it lives.
    config_ms : int
        When the alarm was last defined.
    old, new : str
        The states.
    why : str
        The new state's reason.
    at_ms : int
        When it changed.

    Returns
    -------
    dict
    """
    return {
        "AlarmName": config.name,
        "AlarmDescription": config.request.get("AlarmDescription"),
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": iso(config_ms),
        "NewStateValue": new,
        "NewStateReason": why,
        "StateChangeTime": iso(at_ms),
        "Region": region,
        "AlarmArn": arn,
        "OldStateValue": old,
        "OKActions": list(config.ok_actions),
        "AlarmActions": list(config.alarm_actions),
        "InsufficientDataActions": list(config.insufficient_data_actions),
        "Trigger": config.trigger(),
    }
