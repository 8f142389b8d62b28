"""CloudWatch over the wire: the operations a Kinesis operator uses, answered from the engine's metrics.

``shardstream serve`` answers, beside Kinesis, the CloudWatch operations on
metrics and alarms for the ``AWS/Kinesis`` namespace and shardstream's own,
so ``boto3.client("cloudwatch", endpoint_url=...)`` and
``aws cloudwatch --endpoint-url ...`` work unchanged:

* GetMetricStatistics, GetMetricData, ListMetrics: ``engine.metrics``
  (:class:`~shardstream.metrics.registry.MetricRegistry`);
* PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms,
  DescribeAlarmHistory, SetAlarmState, EnableAlarmActions, DisableAlarmActions:
  ``engine.alarms`` (an AlarmRegistry taking boto3's keyword arguments), when
  the engine has one.

The pipeline (:mod:`.app`) hands over every POST that :func:`recognise`
claims, in whichever protocol botocore's CloudWatch model allows
(:mod:`.cloudwatch_protocols`: smithy-rpc-v2-cbor, JSON 1.0, query);
:func:`answer` authenticates it as a Kinesis request is authenticated,
reads its parameters by the vendored model (:mod:`.cloudwatch_shapes`),
calls the engine of the region it is signed for, and answers -- results and
errors alike -- in the request's protocol.  Other operations of the model
are answered ``UnsupportedOperation``; names it does not have ``InvalidAction``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..errors import AccessDeniedException, KinesisError
from . import auth as _auth
from . import cloudwatch_model, cloudwatch_protocols

__all__ = [
    "ALARM_OPERATIONS",
    "METRIC_OPERATIONS",
    "InvalidAction",
    "UnsupportedOperation",
    "answer",
    "dispatch",
    "recognise",
]

log = logging.getLogger("shardstream.server.cloudwatch")


class InvalidAction(KinesisError):
    """A CloudWatch request naming an operation the model does not have."""

    error_type = "InvalidAction"


class UnsupportedOperation(KinesisError):
    """A CloudWatch operation of the model that shardstream does not answer (yet)."""

    error_type = "UnsupportedOperation"


class InternalServiceFault(KinesisError):
    """An unexpected failure answering a CloudWatch request (CloudWatch's ``InternalServiceError``)."""

    error_type = "InternalServiceError"
    http_status = 500


def _get_metric_statistics(metrics, p: dict) -> dict:
    return metrics.get_metric_statistics(
        p.get("Namespace"),
        p.get("MetricName"),
        p.get("Dimensions"),
        p.get("StartTime"),
        p.get("EndTime"),
        p.get("Period"),
        p.get("Statistics"),
        p.get("ExtendedStatistics"),
        p.get("Unit"),
    )


def _get_metric_data(metrics, p: dict) -> dict:
    return metrics.get_metric_data(
        p.get("MetricDataQueries"),
        p.get("StartTime"),
        p.get("EndTime"),
        p.get("NextToken"),
        p.get("ScanBy"),
        p.get("MaxDatapoints"),
    )


def _list_metrics(metrics, p: dict) -> dict:
    return metrics.list_metrics(p.get("Namespace"), p.get("MetricName"), p.get("Dimensions"), p.get("NextToken"))


#: operation -> function(engine.metrics, params) answering it
METRIC_OPERATIONS = {
    "GetMetricStatistics": _get_metric_statistics,
    "GetMetricData": _get_metric_data,
    "ListMetrics": _list_metrics,
}

#: operation -> the method of ``engine.alarms`` answering it (boto3's keyword arguments in, its response out)
ALARM_OPERATIONS = {
    "PutMetricAlarm": "put_metric_alarm",
    "DescribeAlarms": "describe_alarms",
    "DescribeAlarmsForMetric": "describe_alarms_for_metric",
    "DeleteAlarms": "delete_alarms",
    "DescribeAlarmHistory": "describe_alarm_history",
    "SetAlarmState": "set_alarm_state",
    "EnableAlarmActions": "enable_alarm_actions",
    "DisableAlarmActions": "disable_alarm_actions",
}


def recognise(request, body: bytes) -> cloudwatch_protocols.Call | None:
    """The CloudWatch call ``request`` (a POST with ``body`` read) makes, or None for any other request.

    Parameters
    ----------
    request : aiohttp.web.Request
        Or any object with its ``path`` and ``headers`` (:mod:`.local`'s).
    body : bytes
    """
    if request.headers.get("X-Amz-Target", "").startswith("Kinesis_"):  # the hot path: Kinesis's own
        return None
    return cloudwatch_protocols.recognise(request.path, request.headers, body)


def dispatch(engine, call: cloudwatch_protocols.Call):
    """Answer ``call`` from ``engine``: its parameters read by the model, then the metrics' or alarms' method.

    Parameters
    ----------
    engine : shardstream.Engine
        Or anything with a ``metrics`` registry (and perhaps ``alarms``).
    call : cloudwatch_protocols.Call

    Returns
    -------
    dict or None
        The boto3-shaped response.

    Raises
    ------
    KinesisError
        InvalidAction, UnsupportedOperation, SerializationException, or what
        the parameters or the registry raise (InvalidParameterValue, ...).
    """
    operation = call.operation
    if operation not in cloudwatch_model.operations():
        version = cloudwatch_model.metadata()["apiVersion"]
        raise InvalidAction(f"Could not find operation {operation} for version {version}.")
    params = cloudwatch_protocols.read_params(call)
    handler = METRIC_OPERATIONS.get(operation)
    if handler is not None:
        return handler(engine.metrics, params)
    method = ALARM_OPERATIONS.get(operation)
    if method is None:
        raise UnsupportedOperation(f"{operation} is not supported by shardstream yet.")
    alarms = getattr(engine, "alarms", None)
    if alarms is None:
        raise UnsupportedOperation(f"{operation}: this shardstream has no alarms (the engine has no alarm registry).")
    return getattr(alarms, method)(**params)


def _response(status: int, headers: dict, extra: dict, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, headers={**headers, **extra})


def answer(call: cloudwatch_protocols.Call, request, headers: dict, authenticator, engine_for) -> web.Response:
    """The whole answer to one CloudWatch request, in its protocol; never raises.

    Parameters
    ----------
    call : cloudwatch_protocols.Call
        From :func:`recognise`.
    request : aiohttp.web.Request
        For the signature (method, raw path, headers) and the region it is signed for.
    headers : dict
        The response headers so far (``x-amzn-RequestId``, CORS).
    authenticator : shardstream.server.auth.Authenticator
        The server's; CloudWatch requests are authenticated as Kinesis ones.
    engine_for : callable
        The engine serving a region (None: the default one), as the server's
        region table gives it.
    """
    request_id = headers.get("x-amzn-RequestId", "")
    try:
        identity = authenticator.authenticate(
            request.method, request.raw_path, request.headers, call.body, service="monitoring"
        )
        if identity is not None and identity.restricted:  # key policies name Kinesis actions and streams only
            raise AccessDeniedException(
                f"User: {identity.access_key} is not authorized to perform: cloudwatch:{call.operation}"
            )
        engine = engine_for(_auth.request_region(request.headers, request.query_string))
        result = dispatch(engine, call)
    except KinesisError as err:
        return _error(call.protocol, err, request_id, headers)
    except Exception:  # never let a request take the server down
        log.exception("internal failure answering CloudWatch %s", call.operation)
        return _error(call.protocol, InternalServiceFault("Internal service failure."), request_id, headers)
    extra, body = cloudwatch_protocols.encode_result(call, result, request_id)
    return _response(200, headers, extra, body)


def _error(protocol: str, err: KinesisError, request_id: str, headers: dict) -> web.Response:
    status, extra, body = cloudwatch_protocols.encode_error(protocol, err, request_id)
    return _response(status, headers, extra, body)
