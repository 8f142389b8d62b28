"""The history of an engine's alarms (configuration updates, state updates, actions) for DescribeAlarmHistory.

CloudWatch keeps two weeks of history; so does :class:`AlarmHistory` (on the
engine's clock), and at most ``max_items`` items, the oldest going first.
An alarm's history outlives the alarm, as CloudWatch's does.

Examples
--------
>>> from shardstream.metrics.alarm_history import AlarmHistory
>>> history = AlarmHistory(lambda: 1_700_000_000_000)
>>> _ = history.add("lag", "StateUpdate", "Alarm updated from OK to ALARM", {"version": "1.0"})
>>> [item["HistorySummary"] for item in history.describe(AlarmName="lag")["AlarmHistoryItems"]]
['Alarm updated from OK to ALARM']
"""

from __future__ import annotations

import collections
import itertools
import json
import threading

from ..errors import InvalidParameterValueException
from ..models import ms_to_datetime, to_epoch_ms
from .paging import page

__all__ = ["HISTORY_ITEM_TYPES", "AlarmHistory"]

#: CloudWatch's HistoryItemType values.
HISTORY_ITEM_TYPES = (
    "ConfigurationUpdate",
    "StateUpdate",
    "Action",
    "AlarmContributorStateUpdate",
    "AlarmContributorAction",
)
_TWO_WEEKS_MS = 14 * 24 * 3600 * 1000


class AlarmHistory:
    """Alarm history items, newest last (see the module's documentation).

    Parameters
    ----------
    now_ms : callable
        The engine's clock (ms since the epoch).
    retention_ms : int
        How long an item is kept (two weeks).
    max_items : int
        Most items kept.
    """

    def __init__(self, now_ms, retention_ms: int = _TWO_WEEKS_MS, max_items: int = 10_000):
        self.now_ms = now_ms
        self.retention_ms = int(retention_ms)
        self._lock = threading.Lock()  # guards _items
        self._items: collections.deque = collections.deque(maxlen=max_items)
        self._seq = itertools.count()

    def add(self, alarm_name: str, item_type: str, summary: str, data: dict, at_ms: int | None = None) -> dict:
        """Append one item and return it (DescribeAlarmHistory's shape).

        Parameters
        ----------
        alarm_name : str
        item_type : str
            One of :data:`HISTORY_ITEM_TYPES`.
        summary : str
            ``HistorySummary``.
        data : dict
            ``HistoryData``, kept as JSON text.
        at_ms : int, optional
            The item's time (default: now).
        """
        at = self.now_ms() if at_ms is None else int(at_ms)
        item = {
            "AlarmName": alarm_name,
            "AlarmType": "MetricAlarm",
            "Timestamp": ms_to_datetime(at),
            "HistoryItemType": item_type,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data, separators=(",", ":")),
        }
        with self._lock:
            self._items.append((at, next(self._seq), item))
            horizon = at - self.retention_ms
            while self._items and self._items[0][0] < horizon:
                self._items.popleft()
        return item

    def describe(
        self,
        *,
        AlarmName=None,
        AlarmContributorId=None,
        AlarmTypes=None,
        HistoryItemType=None,
        StartDate=None,
        EndDate=None,
        MaxRecords=None,
        NextToken=None,
        ScanBy=None,
    ) -> dict:
        """CloudWatch's DescribeAlarmHistory.

        Parameters
        ----------
        AlarmName : str, optional
            One alarm's history (default: every alarm's).
        AlarmContributorId : str, optional
            Contributors belong to Metrics Insights alarms: none here match.
        AlarmTypes : list of str, optional
            ``MetricAlarm`` and/or ``CompositeAlarm`` (default: metric alarms).
        HistoryItemType : str, optional
            ``ConfigurationUpdate``, ``StateUpdate`` or ``Action`` (default: all).
        StartDate, EndDate : datetime or epoch seconds, optional
            The items from ``StartDate`` up to ``EndDate``, both included.
        MaxRecords : int, optional
            1 to 100 (default 100).
        NextToken : str, optional
        ScanBy : {"TimestampDescending", "TimestampAscending"}, optional
            Newest first (the default) or oldest first.

        Returns
        -------
        dict
            ``{"AlarmHistoryItems": [{"AlarmName", "AlarmType", "Timestamp", "HistoryItemType",
            "HistorySummary", "HistoryData"}], "NextToken"?}``.
        """
        if HistoryItemType is not None and HistoryItemType not in HISTORY_ITEM_TYPES:
            raise InvalidParameterValueException(
                f"The value {HistoryItemType} for parameter HistoryItemType is not valid: it must be one of "
                f"{', '.join(HISTORY_ITEM_TYPES)}."
            )
        if ScanBy not in (None, "TimestampDescending", "TimestampAscending"):
            raise InvalidParameterValueException(f"The value {ScanBy} for parameter ScanBy is not valid.")
        for alarm_type in AlarmTypes or ():
            if alarm_type not in ("MetricAlarm", "CompositeAlarm"):
                raise InvalidParameterValueException(f"The value {alarm_type} for parameter AlarmTypes is not valid.")
        start = None if StartDate is None else to_epoch_ms(StartDate)
        end = None if EndDate is None else to_epoch_ms(EndDate)
        with self._lock:
            found = [
                (at, seq, item)
                for at, seq, item in self._items
                if (AlarmName is None or item["AlarmName"] == AlarmName)
                and (HistoryItemType is None or item["HistoryItemType"] == HistoryItemType)
                and (start is None or at >= start)
                and (end is None or at <= end)
            ]
        if AlarmContributorId is not None or (AlarmTypes and "MetricAlarm" not in AlarmTypes):
            found = []
        descending = ScanBy != "TimestampAscending"
        found.sort(key=lambda x: (x[0], x[1]), reverse=descending)  # a clock moved back leaves them out of order
        items, token = page(
            found, lambda x: [x[0], x[1]], MaxRecords, NextToken, descending=descending, default=100, limit=100
        )
        out: dict = {"AlarmHistoryItems": [dict(item) for _, _, item in items]}
        if token:
            out["NextToken"] = token
        return out
