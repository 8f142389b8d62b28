"""Structured logs for ``shardstream serve --log-format json``: one JSON object a line.

:class:`JsonFormatter` formats any ``logging`` record as ``{"time", "level",
"logger", "message"}`` (plus ``"exception"`` with the traceback, and the
record's ``extra`` fields); :class:`JsonAccessLogger` is an aiohttp access
logger writing ``{"time", "client", "method", "path", "status", "bytes",
"seconds", "target"}`` per request (``target`` is the ``X-Amz-Target``
operation, None for other requests).
"""

from __future__ import annotations

import datetime as dt
import logging

import orjson
from aiohttp.abc import AbstractAccessLogger

__all__ = ["JsonAccessLogger", "JsonFormatter"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _time(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """A ``logging`` formatter writing each record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line.

        Parameters
        ----------
        record : logging.LogRecord
        """
        out = {
            "time": _time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        return orjson.dumps(out, default=str).decode()


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp's access log as JSON lines (``web.run_app(access_log_class=JsonAccessLogger)``)."""

    def log(self, request, response, time: float) -> None:
        """Write one line for ``request``.

        Parameters
        ----------
        request : aiohttp.web.BaseRequest
        response : aiohttp.web.StreamResponse
        time : float
            Seconds the request took.
        """
        line = {
            "time": _time(dt.datetime.now(dt.timezone.utc).timestamp()),
            "client": request.remote,
            "method": request.method,
            "path": request.path_qs,
            "status": response.status,
            "bytes": response.body_length,
            "seconds": round(time, 6),
            "target": request.headers.get("X-Amz-Target"),
        }
        self.logger.info(orjson.dumps(line).decode())
