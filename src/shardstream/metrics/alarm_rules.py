"""CloudWatch's rules for a metric alarm's state, given its datapoints: pure functions, no clock, no metrics.

An alarm looks at its *evaluation range*: the last ``EvaluationPeriods + 2``
periods (the newest being the period now in progress), each either a value
or missing.  :func:`decide` applies CloudWatch's documented rules
("Evaluating an alarm", "How alarm state is evaluated when data is missing"):

* at least ``EvaluationPeriods`` (N) real datapoints in the range: the newest
  N real ones are evaluated, and ``TreatMissingData`` plays no part;
* none at all: ``missing`` gives INSUFFICIENT_DATA, ``ignore`` keeps the
  current state, ``breaching`` gives ALARM and ``notBreaching`` OK;
* some, but fewer than N: every real datapoint is evaluated and the missing
  ones fill up to N -- as breaching (``breaching``) or not (``notBreaching``);
  with ``missing`` and ``ignore`` they stay unknown: ALARM when the real ones
  alone breach ``DatapointsToAlarm`` (M) times, OK when any real one does not
  breach, and otherwise (every real datapoint breaches, too few to decide)
  INSUFFICIENT_DATA (``missing``) or the current state (``ignore``).

Otherwise the state is ALARM when at least M of the N evaluated datapoints
breach, else OK.  These rules reproduce every cell of the two tables in
CloudWatch's documentation but one: ``X - - - -`` (3 of 3, one breaching
datapoint at the oldest end of the range) with ``missing``, which the table
shows as ALARM where these rules give INSUFFICIENT_DATA, as the table itself
does for ``- - - - X``.

Examples
--------
>>> from shardstream.metrics.alarm_rules import decide
>>> over = lambda v: v > 10
>>> decide([None, None, 5.0, 20.0, 30.0], over, 3, 2, "missing", "OK").state
'ALARM'
>>> decide([None, None, None, None, 20.0], over, 3, 3, "missing", "OK").state
'INSUFFICIENT_DATA'
>>> decide([None, None, None, None, 20.0], over, 3, 3, "ignore", "OK").state
'OK'
"""

from __future__ import annotations

import dataclasses
import operator

__all__ = [
    "ALARM",
    "COMPARISONS",
    "EXTRA_PERIODS",
    "INSUFFICIENT_DATA",
    "OK",
    "STATES",
    "TREAT_MISSING",
    "Verdict",
    "decide",
]

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
#: The states of a metric alarm.
STATES = (OK, ALARM, INSUFFICIENT_DATA)
#: CloudWatch's ComparisonOperator values (the static-threshold ones) and what they test.
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
#: CloudWatch's TreatMissingData values.
TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")
#: Periods looked at beyond EvaluationPeriods (CloudWatch's docs show 5 for an alarm of 3).
EXTRA_PERIODS = 2


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What one evaluation concluded.

    Parameters
    ----------
    state : str
        The state the alarm should be in (the current one when the rules keep it).
    evaluated : tuple of (int, float or None)
        The datapoints evaluated, oldest first: position in the range and value
        (None for a missing one filled by ``TreatMissingData``).
    breaching : int
        How many of them breach (filled ones included).
    filled : str or None
        How missing datapoints were filled: ``"breaching"``, ``"notBreaching"``,
        ``"unknown"`` (left out) or None (none were needed).
    """

    state: str
    evaluated: tuple
    breaching: int
    filled: str | None


def decide(values, breaches, evaluation_periods: int, datapoints_to_alarm: int, treat_missing: str, current: str):
    """The state CloudWatch's rules give an alarm whose evaluation range holds ``values``.

    Parameters
    ----------
    values : sequence of float or None
        The evaluation range, oldest period first; None where a period has no datapoint.
    breaches : callable
        ``breaches(value) -> bool``: the value is on the wrong side of the threshold.
    evaluation_periods, datapoints_to_alarm : int
        N and M: ALARM when M of the N evaluated datapoints breach.
    treat_missing : str
        One of :data:`TREAT_MISSING`.
    current : str
        The alarm's state now (``ignore`` may keep it).

    Returns
    -------
    Verdict
    """
    n, m = evaluation_periods, datapoints_to_alarm
    real = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(real) >= n:
        used = tuple(real[-n:])
        hits = sum(1 for _, v in used if breaches(v))
        return Verdict(ALARM if hits >= m else OK, used, hits, None)
    hits = sum(1 for _, v in real if breaches(v))
    fill = n - len(real)
    used = tuple(real)
    if treat_missing in ("breaching", "notBreaching"):
        hits += fill if treat_missing == "breaching" else 0
        return Verdict(ALARM if hits >= m else OK, used, hits, treat_missing)
    if hits >= m:
        state = ALARM
    elif real and hits < len(real):
        state = OK
    else:  # nothing real, or every real datapoint breaching yet too few: undecided
        state = INSUFFICIENT_DATA if treat_missing == "missing" else current
    return Verdict(state, used, hits, "unknown")
