"""CloudWatch over the wire: boto3, raw requests and the AWS CLI against a live server with real Kinesis traffic.

botocore's CloudWatch model offers three protocols (smithy-rpc-v2-cbor, json,
query); a client uses the first of them its botocore prefers.  Each is forced
here by a copy of the vendored model that lists only it, found first by
botocore's loader (and by the CLI through ``AWS_DATA_PATH``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import boto3
import botocore.session
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

import shardstream
from shardstream.server import cloudwatch, cloudwatch_model, cloudwatch_protocols
from shardstream.testing import boto3_client, start_server

PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")
STREAM = "cw"
RECORDS = 7
NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
AWS = shutil.which("aws", path=sysconfig.get_path("scripts"))
TOOL = Path(__file__).resolve().parents[2] / "tools" / "update_kinesis_model.py"


@pytest.fixture(scope="module")
def traffic():
    """A server whose engine took RECORDS records on STREAM, sampled into metrics."""
    engine = shardstream.Engine()
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        kinesis.put_records(
            StreamName=STREAM, Records=[{"Data": b"%d" % i, "PartitionKey": str(i)} for i in range(RECORDS)]
        )
        engine.catalog.sampler.sample()  # the counters become metrics now, not at the next tick
        yield SimpleNamespace(server=server, engine=engine, url=server.url)


@pytest.fixture(scope="module")
def data_paths(tmp_path_factory):
    """protocol -> a botocore data directory whose CloudWatch model offers only that protocol."""
    root = tmp_path_factory.mktemp("botocore-data")
    paths = {}
    for protocol in PROTOCOLS:
        doc = json.loads(json.dumps(cloudwatch_model.load()))
        doc["metadata"]["protocol"] = protocol
        doc["metadata"]["protocols"] = [protocol]
        folder = root / protocol / "cloudwatch" / "2010-08-01"
        folder.mkdir(parents=True)
        (folder / "service-2.json").write_text(json.dumps(doc))
        paths[protocol] = root / protocol
    return paths


def _client(url: str, data_path=None):
    session = botocore.session.get_session()
    if data_path is not None:
        session.get_component("data_loader").search_paths.insert(0, str(data_path))
    return boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


@pytest.fixture(params=("default", *PROTOCOLS))
def cw(request, traffic, data_paths):
    """A boto3 CloudWatch client of each protocol (and of botocore's own choice) pointed at the server."""
    client = _client(traffic.url, None if request.param == "default" else data_paths[request.param])
    if request.param != "default":
        assert client.meta.service_model.resolved_protocol == request.param
    return client


def _window():
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=2)


DIMS = [{"Name": "StreamName", "Value": STREAM}]


def test_get_metric_statistics_counts_the_records_put(cw):
    start, end = _window()
    out = cw.get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName="IncomingRecords",
        Dimensions=DIMS,
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )
    points = out["Datapoints"]
    assert out["Label"] == "IncomingRecords" and points
    assert sum(p["Sum"] for p in points) == RECORDS
    assert all(p["Unit"] == "Count" and p["SampleCount"] >= 1 and p["Maximum"] <= RECORDS for p in points)
    assert all(start - dt.timedelta(minutes=1) <= p["Timestamp"] <= end for p in points)
    # a series nobody wrote answers no datapoints, not an error
    none = cw.get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName="IncomingRecords",
        Dimensions=[{"Name": "StreamName", "Value": "no-such-stream"}],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Sum"],
    )
    assert none["Datapoints"] == []


def test_get_metric_data_answers_each_query(cw, traffic):
    start, end = _window()

    def query(qid, name):
        metric = {"Namespace": "AWS/Kinesis", "MetricName": name, "Dimensions": DIMS}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}

    out = cw.get_metric_data(
        MetricDataQueries=[query("records", "IncomingRecords"), query("bytes", "IncomingBytes")],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"records", "bytes"}
    assert sum(results["records"]["Values"]) == RECORDS
    # the bytes as the engine counts them, asked in Python: the wire carries the same answer
    queries = [query("bytes", "IncomingBytes")]
    local = traffic.engine.metrics.get_metric_data(queries, start, end, scan_by="TimestampAscending")
    assert results["bytes"]["Values"] == local["MetricDataResults"][0]["Values"]
    assert sum(results["bytes"]["Values"]) >= sum(len(b"%d" % i) for i in range(RECORDS))
    records = results["records"]
    assert records["StatusCode"] == "Complete" and records["Label"] == "IncomingRecords"
    assert len(records["Timestamps"]) == len(records["Values"]) and records["Timestamps"] == sorted(
        records["Timestamps"]
    )


def test_list_metrics_filters_by_namespace_name_and_dimension(cw):
    everything = cw.list_metrics()["Metrics"]
    wanted = {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords", "Dimensions": DIMS}
    assert wanted in everything
    by_name = cw.list_metrics(Namespace="AWS/Kinesis", MetricName="IncomingRecords")["Metrics"]
    assert by_name and all(m["MetricName"] == "IncomingRecords" for m in by_name)
    by_dimension = cw.list_metrics(Dimensions=[{"Name": "StreamName"}])["Metrics"]
    assert wanted in by_dimension
    assert cw.list_metrics(Namespace="AWS/Nothing")["Metrics"] == []


def test_bad_period_is_invalid_parameter_value(cw):
    start, end = _window()
    with pytest.raises(ClientError) as info:
        cw.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName="IncomingRecords",
            StartTime=start,
            EndTime=end,
            Period=7,
            Statistics=["Sum"],
        )
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidParameterValue"
    assert "Period" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert isinstance(info.value, cw.exceptions.InvalidParameterValueException)


def test_operations_not_served_are_refused_by_name(cw):
    with pytest.raises(ClientError) as info:
        cw.put_metric_data(Namespace="Mine", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert info.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- raw requests, signed as botocore signs them ----------------------------------------------------


def _send(url: str, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    request = AWSRequest(method="POST", url=url + path, data=body, headers=headers)
    SigV4Auth(Credentials("x", "y"), "monitoring", "us-east-1").add_auth(request)
    raw = urllib.request.Request(url + path, data=body, method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(raw, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def test_json_missing_parameter_names_the_shape_and_the_query_code(traffic):
    body = json.dumps({"MetricName": "IncomingRecords", "StartTime": 0, "EndTime": 60, "Period": 60}).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
    }
    status, headers, raw = _send(traffic.url, "/", body, headers)
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["x-amzn-query-error"] == "MissingParameter;Sender"
    error = json.loads(raw)
    assert error["__type"] == "MissingRequiredParameterException" and "Namespace" in error["message"]


def test_cbor_answers_carry_the_smithy_protocol_and_epoch_second_timestamps(traffic):
    start, end = _window()
    body = cbor2.dumps(
        {
            "Namespace": "AWS/Kinesis",
            "MetricName": "IncomingRecords",
            "Dimensions": DIMS,
            "StartTime": start,
            "EndTime": end,
            "Period": 60,
            "Statistics": ["Sum"],
        },
        datetime_as_timestamp=True,
    )
    path = "/service/GraniteServiceVersion20100801/operation/GetMetricStatistics"
    headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor"}
    status, headers, raw = _send(traffic.url, path, body, headers)
    assert status == 200, raw
    assert headers["Content-Type"] == "application/cbor" and headers["smithy-protocol"] == "rpc-v2-cbor"
    out = cbor2.loads(raw)  # tag 1 with epoch seconds reads back as datetimes
    assert sum(p["Sum"] for p in out["Datapoints"]) == RECORDS
    assert all(
        isinstance(p["Timestamp"], dt.datetime) and start <= p["Timestamp"] + dt.timedelta(minutes=1)
        for p in out["Datapoints"]
    )


def test_query_answers_in_cloudwatch_xml(traffic):
    start, end = _window()
    form = (
        "Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FKinesis&MetricName=IncomingRecords"
        f"&Dimensions.member.1.Name=StreamName&Dimensions.member.1.Value={STREAM}"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, resp_headers, raw = _send(traffic.url, "/", form.encode(), headers)
    assert status == 200 and resp_headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(raw)
    assert root.tag == f"{NS}ListMetricsResponse"
    members = root.findall(f"{NS}ListMetricsResult/{NS}Metrics/{NS}member")
    assert [m.findtext(f"{NS}MetricName") for m in members] == ["IncomingRecords"]
    assert members[0].findtext(f"{NS}Dimensions/{NS}member/{NS}Value") == STREAM
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId") == resp_headers["x-amzn-RequestId"]

    bad = f"Action=GetMetricStatistics&Version=2010-08-01&Namespace=A&MetricName=B&Period=often&StartTime={start:%s}"
    status, _, raw = _send(traffic.url, "/", (bad + f"&EndTime={end:%s}&Statistics.member.1=Sum").encode(), headers)
    error = ET.fromstring(raw)
    assert status == 400 and error.tag == f"{NS}ErrorResponse"
    assert error.findtext(f"{NS}Error/{NS}Code") == "InvalidParameterValue"
    assert error.findtext(f"{NS}Error/{NS}Type") == "Sender" and "Period" in error.findtext(f"{NS}Error/{NS}Message")

    status, _, raw = _send(traffic.url, "/", b"Action=FrobnicateMetrics&Version=2010-08-01", headers)
    assert status == 400 and ET.fromstring(raw).findtext(f"{NS}Error/{NS}Code") == "InvalidAction"


def test_kinesis_requests_are_still_kinesis_answers(traffic):
    """A form without an Action is not CloudWatch: Kinesis's pipeline answers it as before."""
    status, _, raw = _send(traffic.url, "/", b"a=b", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and b"AccessDeniedException" in raw
    kinesis = boto3_client(traffic.url)
    assert STREAM in kinesis.list_streams()["StreamNames"]


def test_verified_signatures_guard_cloudwatch_too(data_paths):
    """With a key table, a CloudWatch request signed with a wrong secret is refused, in CloudWatch's protocol."""
    with start_server(shardstream.Engine(), auth={"keys": {"x": {"secret": "right"}}}) as server:
        client = _client(server.url, data_paths["json"])  # signs with secret "y"
        with pytest.raises(ClientError) as info:
            client.list_metrics()
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidSignatureException"


def test_a_verified_key_may_read_metrics_and_a_restricted_one_may_not(data_paths):
    """Signatures scoped to ``monitoring`` verify; a key limited to some Kinesis actions is denied CloudWatch."""
    keys = {"x": {"secret": "y"}, "limited": {"secret": "y", "actions": ["GetRecords"]}}
    with start_server(shardstream.Engine(), auth={"keys": keys}) as server:
        assert "Metrics" in _client(server.url, data_paths["json"]).list_metrics()
        limited = boto3.client(
            "cloudwatch",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="limited",
            aws_secret_access_key="y",
        )
        with pytest.raises(ClientError) as info:
            limited.list_metrics()
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


# -- the vendored model ------------------------------------------------------------------------------


def test_vendored_cloudwatch_model_matches_its_recorded_source():
    data = Path(cloudwatch_model.__file__).parent / "data"
    raw = gzip.decompress((data / cloudwatch_model.MODEL_FILE).read_bytes())
    info = cloudwatch_model.source()
    assert hashlib.sha256(raw).hexdigest() == info["sha256"]
    assert info["operations"] == len(cloudwatch_model.operations())
    assert cloudwatch_model.metadata()["protocols"] == list(PROTOCOLS)
    assert set(cloudwatch.METRIC_OPERATIONS) | set(cloudwatch.ALARM_OPERATIONS) <= cloudwatch_model.operations()


def test_refresh_tool_checks_and_writes_the_cloudwatch_model(tmp_path):
    source = tmp_path / "service-2.json"
    doc = json.loads(json.dumps(cloudwatch_model.load()))
    source.write_text(json.dumps(doc))
    args = ["--service", "cloudwatch", "--from", str(source), "--version", cloudwatch_model.version()]
    same = subprocess.run([sys.executable, str(TOOL), "--check", *args], capture_output=True, text=True)
    assert same.returncode == 0, same.stdout + same.stderr
    del doc["operations"]["ListMetrics"]
    source.write_text(json.dumps(doc))
    changed = subprocess.run([sys.executable, str(TOOL), "--check", *args], capture_output=True, text=True)
    assert changed.returncode == 1 and "operation ListMetrics removed" in changed.stdout.splitlines()
    written = subprocess.run([sys.executable, str(TOOL), *args, "--into", str(tmp_path / "out")], capture_output=True)
    assert written.returncode == 0, written.stderr
    assert json.loads(gzip.decompress((tmp_path / "out" / cloudwatch_model.MODEL_FILE).read_bytes())) == doc


# -- the alarm operations' dispatch, with a stand-in for engine.alarms ---------------------------------


class _Alarms:
    """Records what dispatch hands an alarm registry and answers boto3-shaped dicts."""

    def __init__(self):
        self.calls = []

    def put_metric_alarm(self, **params):
        self.calls.append(("put_metric_alarm", params))
        return {}

    def describe_alarms(self, **params):
        self.calls.append(("describe_alarms", params))
        when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
        alarm = {
            "AlarmName": "hot",
            "StateValue": "ALARM",
            "StateUpdatedTimestamp": when,
            "Dimensions": DIMS,
            "Threshold": 5.0,
            "ActionsEnabled": True,
        }
        return {"MetricAlarms": [alarm], "CompositeAlarms": []}


def _call(protocol: str, operation: str, params: dict) -> cloudwatch_protocols.Call:
    """A request of ``operation`` as botocore serializes it in ``protocol``, as the server recognises it."""
    doc = json.loads(json.dumps(cloudwatch_model.load()))
    doc["metadata"]["protocol"] = protocol
    model = ServiceModel(doc, "cloudwatch")
    serializer = create_serializer(protocol, include_validation=True)
    serialized = serializer.serialize_to_request(params, model.operation_model(operation))
    headers = dict(serialized["headers"])
    if protocol == "query":  # the form is encoded by the HTTP layer
        body = urlencode(serialized["body"]).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    else:
        body = serialized["body"]
    call = cloudwatch_protocols.recognise(serialized["url_path"], headers, body)
    assert call is not None and (call.protocol, call.operation) == (protocol, operation)
    return call


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_alarm_operations_reach_the_alarm_registry_with_boto3_arguments(protocol):
    alarms = _Alarms()
    engine = SimpleNamespace(metrics=None, alarms=alarms)
    put = {
        "AlarmName": "hot",
        "Namespace": "AWS/Kinesis",
        "MetricName": "IncomingRecords",
        "Dimensions": DIMS,
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "ActionsEnabled": False,
    }
    assert cloudwatch.dispatch(engine, _call(protocol, "PutMetricAlarm", put)) == {}
    assert alarms.calls == [("put_metric_alarm", put)]
    call = _call(protocol, "DescribeAlarms", {"AlarmNames": ["hot"], "MaxRecords": 10})
    result = cloudwatch.dispatch(engine, call)
    assert alarms.calls[-1] == ("describe_alarms", {"AlarmNames": ["hot"], "MaxRecords": 10})
    # the answer, encoded in the protocol, parses with botocore's own parser back to the registry's dict
    model = botocore.session.get_session().get_service_model("cloudwatch")
    headers, body = cloudwatch_protocols.encode_result(call, result, "req-1")
    parsed = create_parser(protocol).parse(
        {"status_code": 200, "headers": headers, "body": body}, model.operation_model("DescribeAlarms").output_shape
    )
    alarm = parsed["MetricAlarms"][0]
    assert alarm["StateUpdatedTimestamp"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert (alarm["AlarmName"], alarm["Dimensions"], alarm["Threshold"], alarm["ActionsEnabled"]) == (
        "hot",
        DIMS,
        5.0,
        True,
    )


def test_alarm_operations_without_an_alarm_registry_say_so():
    call = cloudwatch_protocols.Call(cloudwatch_protocols.JSON, "DescribeAlarms", b"{}")
    with pytest.raises(cloudwatch.UnsupportedOperation, match="no alarm registry"):
        cloudwatch.dispatch(SimpleNamespace(metrics=None), call)


# -- the AWS CLI ------------------------------------------------------------------------------------


def _aws(url: str, *args: str, data_path=None) -> dict:
    if AWS is None:
        pytest.skip("the AWS CLI is not installed next to this Python (pip install -e '.[test]' installs awscli)")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    proc = subprocess.run(
        [AWS, "--endpoint-url", url, "--output", "json", "cloudwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("protocol", ("default", "smithy-rpc-v2-cbor"))
def test_aws_cli_get_metric_statistics(traffic, data_paths, protocol):
    start, end = _window()
    out = _aws(
        traffic.url,
        "get-metric-statistics",
        "--namespace",
        "AWS/Kinesis",
        "--metric-name",
        "IncomingRecords",
        "--dimensions",
        f"Name=StreamName,Value={STREAM}",
        "--start-time",
        start.isoformat(),
        "--end-time",
        end.isoformat(),
        "--period",
        "60",
        "--statistics",
        "Sum",
        data_path=None if protocol == "default" else data_paths[protocol],
    )
    assert out["Label"] == "IncomingRecords"
    assert sum(p["Sum"] for p in out["Datapoints"]) == RECORDS
