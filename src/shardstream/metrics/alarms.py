"""CloudWatch's metric alarms on an engine's metrics: ``engine.alarms``.

:class:`AlarmRegistry` takes CloudWatch's alarm operations in boto3's shapes
(PascalCase keyword arguments, response dicts): ``put_metric_alarm``,
``describe_alarms``, ``describe_alarms_for_metric``, ``delete_alarms``,
``describe_alarm_history``, ``set_alarm_state``, ``enable_alarm_actions``
and ``disable_alarm_actions``.

Evaluation
----------
:meth:`AlarmRegistry.evaluate` evaluates every alarm at the engine's current
time; the metric sampler calls it after each look, once a second (an engine
on an injected clock is evaluated when its test calls
``engine.catalog.sampler.sample()`` or ``engine.alarms.evaluate()``), and
``put_metric_alarm`` evaluates the alarm it puts.  Each evaluation asks
``engine.metrics`` for the alarm's statistic over its *evaluation range*:
the last ``EvaluationPeriods + 2`` periods, aligned to the period (whole
multiples of it since the epoch), the newest being the period in progress,
so an alarm sees a datapoint as soon as it is recorded.  CloudWatch's rules
then give the state (:mod:`~shardstream.metrics.alarm_rules`: M out of N,
``TreatMissingData``).  A change of state is recorded in the history
(``StateUpdate``, with the old and new state and the reason as JSON), logged
on the ``shardstream.alarms`` logger (WARNING for ALARM, INFO otherwise) and,
while the alarm's actions are enabled, runs the new state's actions and the
registry's callbacks (:mod:`~shardstream.metrics.alarm_actions`).

A new alarm starts INSUFFICIENT_DATA; an updated one keeps its state.
``set_alarm_state`` sets a state (running its actions if it changed) until
the next evaluation decides otherwise, as CloudWatch's does -- here within a
second on a live engine.

Examples
--------
>>> import shardstream
>>> now = [1_700_000_000_000]
>>> engine = shardstream.Engine(clock=lambda: now[0])
>>> _ = engine.alarms.put_metric_alarm(
...     AlarmName="busy", Namespace="AWS/Kinesis", MetricName="IncomingRecords",
...     Dimensions=[{"Name": "StreamName", "Value": "s"}], Statistic="Sum", Period=60,
...     EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanThreshold",
...     TreatMissingData="notBreaching")
>>> engine.alarms.describe_alarms()["MetricAlarms"][0]["StateValue"]
'OK'
>>> engine.metrics.record("IncomingRecords", {"StreamName": "s"}, 500, unit="Count")
>>> _ = engine.alarms.evaluate()  # as the engine does once a second
>>> engine.alarms.describe_alarms(StateValue="ALARM")["MetricAlarms"][0]["AlarmName"]
'busy'
>>> engine.close()
"""

from __future__ import annotations

import json
import logging
import math
import threading

from ..errors import (
    AlarmNotFoundException,
    InvalidFormatException,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    MissingRequiredParameterException,
)
from ..models import ms_to_datetime
from . import alarm_actions
from . import alarm_messages as messages
from .alarm_config import AlarmConfig
from .alarm_history import AlarmHistory
from .alarm_rules import ALARM, EXTRA_PERIODS, INSUFFICIENT_DATA, STATES, decide
from .paging import page

__all__ = ["AlarmRegistry"]

_log = logging.getLogger("shardstream.alarms")
_MAX_GET_PERIODS = 1440  # GetMetricStatistics' datapoint limit


def _all_actions(alarm: _Alarm) -> tuple:
    c = alarm.config
    return c.ok_actions + c.alarm_actions + c.insufficient_data_actions


def _names(names) -> list:
    if names is None:
        raise MissingRequiredParameterException("The parameter AlarmNames is required.")
    if not isinstance(names, (list, tuple)) or len(names) > 100 or not all(isinstance(n, str) for n in names):
        raise InvalidParameterValueException("The parameter AlarmNames must be a list of at most 100 names.")
    return list(names)


class _Alarm:
    """One alarm's definition and state; the registry's lock guards every field."""

    __slots__ = (
        "actions_enabled",
        "config",
        "config_ms",
        "reason",
        "reason_data",
        "state",
        "transitioned_ms",
        "updated_ms",
        "version",
    )

    def __init__(self, config: AlarmConfig, now_ms: int, before: _Alarm | None):
        self.config = config
        self.config_ms = now_ms
        self.actions_enabled = config.request["ActionsEnabled"]
        if before is None:
            self.state, self.reason, self.reason_data = INSUFFICIENT_DATA, "Unchecked: Initial alarm creation", None
            self.updated_ms = self.transitioned_ms = now_ms
            self.version = 0
        else:  # an update keeps the state
            self.state, self.reason, self.reason_data = before.state, before.reason, before.reason_data
            self.updated_ms, self.transitioned_ms = before.updated_ms, before.transitioned_ms
            self.version = before.version + 1


class AlarmRegistry:
    """The metric alarms of one engine (see the module's documentation).

    Parameters
    ----------
    metrics : MetricRegistry
        Where the alarms' metrics are asked.
    now_ms : callable
        The engine's clock (ms since the epoch).
    region, account_id : str
        Named in alarm ARNs and notifications.
    on_put : callable, optional
        Called after each ``put_metric_alarm`` (the engine starts its once-a-second evaluation).

    Attributes
    ----------
    history : AlarmHistory
        Every alarm's history (``describe_alarm_history``).
    actions : AlarmActions
        Runs the actions of state changes.
    """

    def __init__(self, metrics, now_ms, *, region: str = "us-east-1", account_id: str = "000000000000", on_put=None):
        self.metrics = metrics
        self._on_put = on_put
        self.now_ms = now_ms
        self.region = region
        self.account_id = account_id
        self.history = AlarmHistory(now_ms)
        self.actions = alarm_actions.AlarmActions(self.history)
        self._lock = threading.RLock()  # guards _alarms and every _Alarm's fields
        self._alarms: dict[str, _Alarm] = {}

    # -- defining alarms ------------------------------------------------------------------

    def put_metric_alarm(
        self,
        *,
        AlarmName=None,
        AlarmDescription=None,
        ActionsEnabled=None,
        OKActions=None,
        AlarmActions=None,
        InsufficientDataActions=None,
        MetricName=None,
        Namespace=None,
        Statistic=None,
        ExtendedStatistic=None,
        Dimensions=None,
        Period=None,
        Unit=None,
        EvaluationPeriods=None,
        DatapointsToAlarm=None,
        Threshold=None,
        ComparisonOperator=None,
        TreatMissingData=None,
        EvaluateLowSampleCountPercentile=None,
        Metrics=None,
        Tags=None,
        ThresholdMetricId=None,
    ) -> dict:
        """CloudWatch's PutMetricAlarm: create an alarm, or replace the definition of one (keeping its state).

        Parameters
        ----------
        AlarmName, Namespace, MetricName : str
        Statistic : str, optional
            ``SampleCount``, ``Average``, ``Sum``, ``Minimum`` or ``Maximum`` (or give ``ExtendedStatistic``).
        ExtendedStatistic : str, optional
            A percentile such as ``p99`` (series that keep histograms).
        Dimensions : list of {"Name", "Value"}, optional
            Exactly the series' dimensions.
        Period : int
            Seconds: 1, 5, 10, 30 or a multiple of 60 (CloudWatch: 10, 30 or a multiple of 60).
        Unit : str, optional
            Only a series with this unit counts.
        EvaluationPeriods : int
            N: how many datapoints are evaluated (``N * Period`` at most a day).
        DatapointsToAlarm : int, optional
            M (default N): ALARM when M of the N breach.
        Threshold : float
        ComparisonOperator : str
            ``GreaterThanThreshold``, ``GreaterThanOrEqualToThreshold``, ``LessThanThreshold`` or
            ``LessThanOrEqualToThreshold``.
        TreatMissingData : str, optional
            ``missing`` (default), ``notBreaching``, ``breaching`` or ``ignore``.
        AlarmDescription : str, optional
        ActionsEnabled : bool, optional
            Default True.
        OKActions, AlarmActions, InsufficientDataActions : list of str, optional
            At most 5 each: loopback webhook URLs, or anything else (logged).
        EvaluateLowSampleCountPercentile : str, optional
            Kept and described; every percentile is evaluated.
        Tags : list of {"Key", "Value"}, optional
            Accepted and not kept.
        Metrics, ThresholdMetricId : optional
            Metric math and anomaly bands: refused (InvalidParameterValue).

        Returns
        -------
        dict
            ``{}``.
        """
        request = {k: v for k, v in locals().items() if k != "self" and v is not None}
        request.pop("Tags", None)
        config = AlarmConfig.from_request(**request)
        now = self.now_ms()
        with self._lock:
            before = self._alarms.get(config.name)
            alarm = self._alarms[config.name] = _Alarm(config, now, before)
            kind = "Update" if before else "Create"
            self.history.add(
                config.name,
                "ConfigurationUpdate",
                f'Alarm "{config.name}" {kind.lower()}d',
                {"type": kind, "version": "1.0", f"{kind.lower()}dAlarm": config.describe()},
                now,
            )
        self._evaluate(alarm, now)
        if self._on_put is not None:
            self._on_put()
        return {}

    def delete_alarms(self, *, AlarmNames=None) -> dict:
        """CloudWatch's DeleteAlarms: all of ``AlarmNames`` or, if one does not exist, none (ResourceNotFound).

        Parameters
        ----------
        AlarmNames : list of str
            At most 100.

        Returns
        -------
        dict
            ``{}``.
        """
        names = _names(AlarmNames)
        now = self.now_ms()
        with self._lock:
            missing = [n for n in names if n not in self._alarms]
            if missing:
                raise AlarmNotFoundException(f"The following alarms were not found: {', '.join(missing)}")
            for name in names:
                alarm = self._alarms.pop(name, None)
                if alarm is not None:
                    data = {"type": "Delete", "version": "1.0", "deletedAlarm": alarm.config.describe()}
                    self.history.add(name, "ConfigurationUpdate", f'Alarm "{name}" deleted', data, now)
        return {}

    def enable_alarm_actions(self, *, AlarmNames=None) -> dict:
        """CloudWatch's EnableAlarmActions: the alarms' actions run again on their next state change.

        Parameters
        ----------
        AlarmNames : list of str
            Names that are not alarms are passed over.

        Returns
        -------
        dict
            ``{}``.
        """
        return self._set_actions(AlarmNames, True)

    def disable_alarm_actions(self, *, AlarmNames=None) -> dict:
        """CloudWatch's DisableAlarmActions: the alarms still change state, and run no action.

        Parameters
        ----------
        AlarmNames : list of str
            Names that are not alarms are passed over.

        Returns
        -------
        dict
            ``{}``.
        """
        return self._set_actions(AlarmNames, False)

    def on_state_change(self, callback):
        """Call ``callback(notification)`` when an alarm whose actions are enabled changes state.

        The notification is CloudWatch's alarm message (``AlarmName``,
        ``NewStateValue``, ``OldStateValue``, ``NewStateReason``,
        ``StateChangeTime``, ``Trigger``, ...); the call happens on the
        alarms' delivery thread, in the order of the changes.

        Parameters
        ----------
        callback : callable

        Returns
        -------
        callable
            ``callback``: usable as a decorator.
        """
        return self.actions.on_state_change(callback)

    def remove_state_change_callback(self, callback) -> None:
        """Stop calling ``callback`` (given to :meth:`on_state_change`)."""
        self.actions.remove_callback(callback)

    def drain(self, timeout: float | None = 10.0) -> bool:
        """Wait until the actions of every state change so far have run; False if ``timeout`` (s) passed first.

        Parameters
        ----------
        timeout : float or None
        """
        return self.actions.drain(timeout)

    # -- asking -------------------------------------------------------------------------------

    def describe_alarms(
        self,
        *,
        AlarmNames=None,
        AlarmNamePrefix=None,
        AlarmTypes=None,
        ChildrenOfAlarmName=None,
        ParentsOfAlarmName=None,
        StateValue=None,
        ActionPrefix=None,
        MaxRecords=None,
        NextToken=None,
    ) -> dict:
        """CloudWatch's DescribeAlarms, in name order.

        Parameters
        ----------
        AlarmNames : list of str, optional
            Only these (not with ``AlarmNamePrefix``).
        AlarmNamePrefix : str, optional
        AlarmTypes : list of str, optional
            ``MetricAlarm`` and/or ``CompositeAlarm`` (default: metric alarms; there are no composite ones).
        ChildrenOfAlarmName, ParentsOfAlarmName : str, optional
            Relations of composite alarms: none exist, so nothing matches.
        StateValue : str, optional
            ``OK``, ``ALARM`` or ``INSUFFICIENT_DATA``.
        ActionPrefix : str, optional
            Alarms with an action (of any state) starting with it.
        MaxRecords : int, optional
            1 to 100 (default 50).
        NextToken : str, optional

        Returns
        -------
        dict
            ``{"MetricAlarms": [...], "CompositeAlarms": [], "NextToken"?}``.
        """
        if AlarmNames is not None and AlarmNamePrefix is not None:
            raise InvalidParameterCombinationException("AlarmNames and AlarmNamePrefix cannot be given together.")
        if StateValue is not None and StateValue not in STATES:
            raise InvalidParameterValueException(f"The value {StateValue} for parameter StateValue is not valid.")
        for alarm_type in AlarmTypes or ():
            if alarm_type not in ("MetricAlarm", "CompositeAlarm"):
                raise InvalidParameterValueException(f"The value {alarm_type} for parameter AlarmTypes is not valid.")
        names = None if AlarmNames is None else set(_names(AlarmNames))
        with self._lock:
            found = [
                self._describe(alarm)
                for name, alarm in sorted(self._alarms.items())
                if (names is None or name in names)
                and (AlarmNamePrefix is None or name.startswith(AlarmNamePrefix))
                and (StateValue is None or alarm.state == StateValue)
                and (ActionPrefix is None or any(a.startswith(ActionPrefix) for a in _all_actions(alarm)))
            ]
        if ChildrenOfAlarmName is not None or ParentsOfAlarmName is not None:
            found = []
        if AlarmTypes and "MetricAlarm" not in AlarmTypes:
            found = []
        items, token = page(found, lambda a: a["AlarmName"], MaxRecords, NextToken, default=50, limit=100)
        out: dict = {"MetricAlarms": items, "CompositeAlarms": []}
        if token:
            out["NextToken"] = token
        return out

    def describe_alarms_for_metric(
        self,
        *,
        MetricName=None,
        Namespace=None,
        Statistic=None,
        ExtendedStatistic=None,
        Dimensions=None,
        Period=None,
        Unit=None,
    ) -> dict:
        """CloudWatch's DescribeAlarmsForMetric: the alarms on one metric (the optional filters narrow).

        Parameters
        ----------
        MetricName, Namespace : str
        Statistic, ExtendedStatistic, Period, Unit : optional
            Only alarms with these.
        Dimensions : list of {"Name", "Value"}, optional
            Only alarms with exactly these dimensions.

        Returns
        -------
        dict
            ``{"MetricAlarms": [...]}``.
        """
        if not MetricName or not Namespace:
            raise MissingRequiredParameterException("The parameters MetricName and Namespace are required.")
        dims = None if Dimensions is None else sorted((d["Name"], d["Value"]) for d in Dimensions)
        with self._lock:
            found = [
                self._describe(alarm)
                for _, alarm in sorted(self._alarms.items())
                if alarm.config.metric_name == MetricName
                and alarm.config.namespace == Namespace
                and (Statistic is None or alarm.config.statistic == Statistic)
                and (ExtendedStatistic is None or alarm.config.extended_statistic == ExtendedStatistic)
                and (Period is None or alarm.config.period == Period)
                and (Unit is None or alarm.config.unit == Unit)
                and (dims is None or sorted(alarm.config.dimensions) == dims)
            ]
        return {"MetricAlarms": found}

    def describe_alarm_history(self, **request) -> dict:
        """CloudWatch's DescribeAlarmHistory (see :meth:`AlarmHistory.describe` for the arguments).

        Parameters
        ----------
        **request
            ``AlarmName``, ``AlarmTypes``, ``HistoryItemType``, ``StartDate``, ``EndDate``,
            ``MaxRecords``, ``NextToken``, ``ScanBy``.

        Returns
        -------
        dict
            ``{"AlarmHistoryItems": [...], "NextToken"?}``.
        """
        return self.history.describe(**request)

    # -- state ------------------------------------------------------------------------------------

    def set_alarm_state(self, *, AlarmName=None, StateValue=None, StateReason=None, StateReasonData=None) -> dict:
        """CloudWatch's SetAlarmState: this state until the next evaluation; its actions run if it changed.

        Parameters
        ----------
        AlarmName : str
        StateValue : str
            ``OK``, ``ALARM`` or ``INSUFFICIENT_DATA``.
        StateReason : str
            At most 1023 characters.
        StateReasonData : str, optional
            JSON (InvalidFormat if it is not).

        Returns
        -------
        dict
            ``{}``.
        """
        for name, value in (("AlarmName", AlarmName), ("StateValue", StateValue), ("StateReason", StateReason)):
            if value is None:
                raise MissingRequiredParameterException(f"The parameter {name} is required.")
        if StateValue not in STATES:
            raise InvalidParameterValueException(f"The value {StateValue} for parameter StateValue is not valid.")
        if not isinstance(StateReason, str) or len(StateReason) > 1023:
            raise InvalidParameterValueException("The parameter StateReason must be a string of at most 1023.")
        if StateReasonData is not None:
            try:
                json.loads(StateReasonData)
            except (TypeError, ValueError):
                raise InvalidFormatException("The parameter StateReasonData is not valid JSON.") from None
        now = self.now_ms()
        with self._lock:
            alarm = self._alarms.get(AlarmName)
            if alarm is None:
                raise AlarmNotFoundException(f"Alarm {AlarmName} not found")
            if alarm.state == StateValue:  # no change: a new reason only
                alarm.reason, alarm.reason_data, alarm.updated_ms = StateReason, StateReasonData, now
                alarm.version += 1
                return {}
            self._change(alarm, StateValue, StateReason, StateReasonData, now)
        return {}

    def evaluate(self) -> list[dict]:
        """Evaluate every alarm now (see the module's documentation).

        Returns
        -------
        list of dict
            The notification of each state change it made.
        """
        now = self.now_ms()
        with self._lock:
            alarms = list(self._alarms.values())
        changes = []
        for alarm in alarms:
            try:
                change = self._evaluate(alarm, now)
            except Exception:  # one alarm's failure leaves the others evaluated
                _log.exception("evaluating alarm %s failed", alarm.config.name)
                continue
            if change is not None:
                changes.append(change)
        return changes

    # -- inside -------------------------------------------------------------------------------------

    def _evaluate(self, alarm: _Alarm, now: int) -> dict | None:
        with self._lock:
            config, current, version = alarm.config, alarm.state, alarm.version
        values, starts = self._values(config, now)
        n, m, treat = config.evaluation_periods, config.datapoints_to_alarm, config.treat_missing_data
        verdict = decide(values, config.breaches, n, m, treat, current)
        if verdict.state == current:
            return None
        reason = messages.reason(config, verdict, starts, current)
        data = json.dumps(messages.reason_data(config, verdict, starts, now), separators=(",", ":"))
        with self._lock:
            if self._alarms.get(config.name) is not alarm or alarm.version != version:
                return None  # redefined, deleted or set meanwhile: that wins until the next evaluation
            return self._change(alarm, verdict.state, reason, data, now)

    def _values(self, config: AlarmConfig, now_ms: int) -> tuple[list, list]:
        """The evaluation range's values (None: missing) and the periods' starts (epoch s), oldest first."""
        period = config.period
        size = config.evaluation_periods + EXTRA_PERIODS
        now_s = now_ms // 1000
        first = now_s - now_s % period - (size - 1) * period
        values: list = [None] * size
        stats = ([config.statistic], None) if config.statistic else (None, [config.extended_statistic])
        for lo in range(0, size, _MAX_GET_PERIODS):
            hi = min(size, lo + _MAX_GET_PERIODS)
            answer = self.metrics.get_metric_statistics(
                config.namespace,
                config.metric_name,
                config.dimension_list(),
                first + lo * period,
                first + hi * period,
                period,
                *stats,
                config.unit,
            )
            for point in answer["Datapoints"]:
                value = point[config.stat] if config.statistic else point["ExtendedStatistics"][config.stat]
                if not math.isnan(value):
                    values[(int(point["Timestamp"].timestamp()) - first) // period] = value
        return values, [first + i * period for i in range(size)]

    def _change(self, alarm: _Alarm, state: str, reason: str, reason_data, now: int) -> dict:
        """Move ``alarm`` to ``state`` (the caller holds the lock): history, log line, actions."""
        config, old, old_reason = alarm.config, alarm.state, alarm.reason
        alarm.state, alarm.reason, alarm.reason_data = state, reason, reason_data
        alarm.updated_ms = alarm.transitioned_ms = now
        alarm.version += 1
        new_state: dict = {"stateValue": state, "stateReason": reason}
        if reason_data is not None:
            new_state["stateReasonData"] = json.loads(reason_data)
        data = {"version": "1.0", "oldState": {"stateValue": old, "stateReason": old_reason}, "newState": new_state}
        self.history.add(config.name, "StateUpdate", f"Alarm updated from {old} to {state}", data, now)
        level = logging.WARNING if state == ALARM else logging.INFO
        _log.log(level, "alarm %s: %s -> %s: %s", config.name, old, state, reason)
        notification = messages.notification(
            config, self._arn(config.name), self.region, self.account_id, alarm.config_ms, old, state, reason, now
        )
        if alarm.actions_enabled:
            self.actions.run(config.name, config.actions_for(state), notification, level)
        return notification

    def _describe(self, alarm: _Alarm) -> dict:
        out = alarm.config.describe()
        out.update(
            AlarmArn=self._arn(alarm.config.name),
            AlarmConfigurationUpdatedTimestamp=ms_to_datetime(alarm.config_ms),
            ActionsEnabled=alarm.actions_enabled,
            StateValue=alarm.state,
            StateReason=alarm.reason,
            StateUpdatedTimestamp=ms_to_datetime(alarm.updated_ms),
            StateTransitionedTimestamp=ms_to_datetime(alarm.transitioned_ms),
        )
        if alarm.reason_data is not None:
            out["StateReasonData"] = alarm.reason_data
        return out

    def _arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{name}"

    def _set_actions(self, names, enabled: bool) -> dict:
        with self._lock:
            for name in _names(names):
                alarm = self._alarms.get(name)
                if alarm is not None:
                    alarm.actions_enabled = enabled
        return {}
