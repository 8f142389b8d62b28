"""Running alarm actions off the evaluating thread: webhooks to loopback URLs, log lines, Python callbacks.

When an alarm whose actions are enabled changes state, the registry hands
the new state's actions and the notification (CloudWatch's SNS message:
``AlarmName``, ``NewStateValue``, ``OldStateValue``, ``NewStateReason``,
``StateChangeTime``, ``Trigger``, ...) to :meth:`AlarmActions.run`:

* an ``http://`` / ``https://`` URL (loopback only, checked when the alarm was
  put) is POSTed the notification as JSON, with no proxy and no redirect
  followed, by a delivery thread; the outcome becomes an ``Action`` history
  item, and a failure is logged, never raised;
* any other action (an SNS topic's ARN, ...) becomes a log line on the
  ``shardstream.alarms`` logger and an ``Action`` history item;
* every callback given to :meth:`AlarmActions.on_state_change` is called with
  the notification, on the delivery thread (an exception is logged).

Deliveries run in order on one thread, started when there is something to
deliver and gone when there is not.  :meth:`AlarmActions.drain` waits for
them.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import threading
import urllib.error
import urllib.request

from .alarm_config import is_webhook

__all__ = ["AlarmActions"]

_log = logging.getLogger("shardstream.alarms")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook's answer is its answer: a redirect (possibly off the machine) is not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class AlarmActions:
    """Runs the actions of alarms' state changes (see the module's documentation).

    Parameters
    ----------
    history : AlarmHistory
        Where each action's outcome goes (``Action`` items).
    timeout_s : float
        How long a webhook may take.
    """

    def __init__(self, history, timeout_s: float = 5.0):
        self.history = history
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)
        self._cond = threading.Condition()  # guards _queue, _pending, _running and _callbacks
        self._queue: collections.deque = collections.deque()
        self._pending = 0
        self._running = False
        self._callbacks: list = []

    def on_state_change(self, callback):
        """Call ``callback(notification)`` on every state change of an alarm whose actions are enabled.

        Parameters
        ----------
        callback : callable
            Takes the notification dict; called on the delivery thread.

        Returns
        -------
        callable
            ``callback`` (so this works as a decorator).
        """
        with self._cond:
            self._callbacks.append(callback)
        return callback

    def remove_callback(self, callback) -> None:
        """Stop calling ``callback`` (a no-op if it was not registered)."""
        with self._cond:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def run(self, alarm_name: str, actions, notification: dict, level: int) -> None:
        """Run ``actions`` of a state change of ``alarm_name`` (never blocks on a webhook).

        Parameters
        ----------
        alarm_name : str
        actions : sequence of str
            The new state's actions.
        notification : dict
            The state change's notification.
        level : int
            The logging level of the change (``WARNING`` for ALARM, ``INFO`` otherwise).
        """
        for action in actions:
            if is_webhook(action):
                self._submit(functools.partial(self._post, alarm_name, action, notification))
            else:
                _log.log(
                    level,
                    "alarm %s is %s: action %s: %s",
                    alarm_name,
                    notification["NewStateValue"],
                    action,
                    notification["NewStateReason"],
                )
                self._record(alarm_name, action, notification, None, "logged (shardstream delivers only webhooks)")
        with self._cond:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            self._submit(functools.partial(self._call, callback, notification))

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every action handed over so far has run; False if ``timeout`` (seconds) passed first.

        Parameters
        ----------
        timeout : float, optional
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    # -- the delivery thread ------------------------------------------------------------------

    def _submit(self, task) -> None:
        with self._cond:
            self._queue.append(task)
            self._pending += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name="shardstream-alarm-actions", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._running = False
                    return
                task = self._queue.popleft()
            try:
                task()
            except Exception:  # a delivery never stops the others
                _log.exception("running an alarm action failed")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _post(self, alarm_name: str, url: str, notification: dict) -> None:
        body = json.dumps(notification).encode("utf-8")
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "shardstream-alarms"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read()
        except (OSError, ValueError) as e:  # URLError, HTTPError (a non-2xx answer), timeouts
            _log.warning("alarm %s: webhook %s failed: %s", alarm_name, url, e)
            self._record(alarm_name, url, notification, str(e), None)
            return
        self._record(alarm_name, url, notification, None, None)

    @staticmethod
    def _call(callback, notification: dict) -> None:
        try:
            callback(notification)
        except Exception:
            _log.exception("alarm %s: a state change callback failed", notification["AlarmName"])

    def _record(self, alarm_name: str, action: str, notification: dict, error: str | None, note: str | None) -> None:
        data = {
            "actionState": "Failed" if error else "Succeeded",
            "stateUpdateTimestamp": notification["StateChangeTime"],
            "notificationResource": action,
        }
        if error:
            data["error"] = error
            summary = f'Failed to execute action {action}. Received error: "{error}"'
        else:
            summary = f"Successfully executed action {action}" + (f" ({note})" if note else "")
        self.history.add(alarm_name, "Action", summary, data)
