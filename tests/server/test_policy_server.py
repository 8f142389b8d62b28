"""Policies enforced by a real server (``--auth`` verify mode) for boto3 clients signing with different keys.

Identity policies come from the key table, resource policies from
PutResourcePolicy on streams and consumers; conditions see the peer address
(127.0.0.1 on loopback) and the transport (plain HTTP, or TLS).
"""

from __future__ import annotations

import base64
import gc
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import shardstream
from shardstream.server.auth import AuthConfig
from shardstream.testing import start_server

from .test_authz_resources import post
from .test_tls import cert_pair  # noqa: F401  (a fixture)

ACCOUNT = "000000000000"
ELSEWHERE = "111122223333"
SHARD0 = "shardId-000000000000"


def user(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


KEYS = {
    "keys": {
        "AKIDADMIN": {"secret": "admin-secret", "arn": user("admin")},
        "AKIDALICE": {
            "secret": "alice-secret",
            "arn": user("alice"),
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadOpenStreams",
                        "Effect": "Allow",
                        "Action": ["kinesis:Get*", "kinesis:Describe*", "kinesis:List*"],
                        "Resource": "arn:aws:kinesis:*:*:stream/open*",
                    },
                    {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": stream_arn("open")},
                ],
            },
        },
        # bob may do nothing by himself: what he does, resource policies let him
        "AKIDBOB": {"secret": "bob-secret", "arn": user("bob"), "policy": {"Version": "2012-10-17", "Statement": []}},
        "AKIDCAROL": {"secret": "carol-secret", "arn": user("carol", ELSEWHERE)},  # another account, kinesis:*
    }
}


def client(url, akid, secret, verify=None):
    return boto3.session.Session().client(
        "kinesis",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        verify=verify,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    )


def denied(call, *args, **kwargs) -> str:
    """The AccessDeniedException message of a call that must be denied."""
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    error = exc.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    return error["Message"]


def statement(effect, principal, actions, resource=None, condition=None, principal_key="Principal") -> dict:
    out = {"Effect": effect, principal_key: principal, "Action": actions}
    if resource is not None:
        out["Resource"] = resource
    if condition is not None:
        out["Condition"] = condition
    return out


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def world():
    with start_server(shardstream.Engine(), auth=KEYS) as srv:
        admin = client(srv.url, "AKIDADMIN", "admin-secret")
        for name in ("open", "closed", "shared"):
            admin.create_stream(StreamName=name, ShardCount=1)
            admin.put_record(StreamName=name, Data=name.encode(), PartitionKey="k")
        yield srv, admin


@pytest.fixture
def keys(world):
    srv, admin = world
    yield (
        admin,
        client(srv.url, "AKIDALICE", "alice-secret"),
        client(srv.url, "AKIDBOB", "bob-secret"),
        client(srv.url, "AKIDCAROL", "carol-secret"),
    )
    for name in ("open", "closed", "shared"):  # each test starts without resource policies
        try:
            admin.delete_resource_policy(ResourceARN=stream_arn(name))
        except ClientError:
            pass


def test_allow_via_the_identity_policy(keys):
    _, alice, _, _ = keys
    assert alice.put_record(StreamName="open", Data=b"a", PartitionKey="k")["ShardId"] == SHARD0
    assert alice.describe_stream_summary(StreamName="open")["StreamDescriptionSummary"]["StreamName"] == "open"
    message = denied(alice.put_record, StreamName="closed", Data=b"a", PartitionKey="k")
    assert message == (
        f"User: {user('alice')} is not authorized to perform: kinesis:PutRecord on resource: {stream_arn('closed')} "
        "because no identity-based policy allows the kinesis:PutRecord action"
    )
    denied(alice.delete_stream, StreamName="open")  # not in her policy
    denied(alice.list_streams)  # resource "*": her statements name streams only


def test_allow_via_a_resource_policy(keys):
    admin, _, bob, _ = keys
    denied(bob.put_record, StreamName="shared", Data=b"b", PartitionKey="k")
    grant = statement(
        "Allow",
        {"AWS": user("bob")},
        ["kinesis:PutRecord", "kinesis:GetShardIterator", "kinesis:GetRecords"],
        stream_arn("shared"),
    )
    admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(grant))
    bob.put_record(StreamName="shared", Data=b"b", PartitionKey="k")
    it = bob.get_shard_iterator(StreamName="shared", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    assert [r["Data"] for r in bob.get_records(ShardIterator=it["ShardIterator"])["Records"]][-1] == b"b"
    denied(bob.describe_stream, StreamName="shared")  # not granted
    denied(bob.put_record, StreamName="open", Data=b"b", PartitionKey="k")  # another stream's policy
    # naming the account delegates to its identity policies: bob has none that allow
    account_grant = statement("Allow", {"AWS": ACCOUNT}, "kinesis:*")
    admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(account_grant))
    assert denied(bob.put_record, StreamName="shared", Data=b"b", PartitionKey="k").endswith(
        "because no identity-based policy allows the kinesis:PutRecord action"
    )


def test_an_explicit_deny_wins(keys):
    admin, alice, _, _ = keys
    no_writes = statement("Deny", {"AWS": user("alice")}, "kinesis:Put*", stream_arn("open"))
    admin.put_resource_policy(ResourceARN=stream_arn("open"), Policy=policy(no_writes))
    message = denied(alice.put_record, StreamName="open", Data=b"a", PartitionKey="k")
    assert message == (
        f"User: {user('alice')} is not authorized to perform: kinesis:PutRecord on resource: {stream_arn('open')} "
        "with an explicit deny in a resource-based policy"
    )
    assert alice.describe_stream_summary(StreamName="open")  # what the deny does not cover still works
    # a deny for everyone holds against an unrestricted key, and an allow beside it changes nothing
    keep = statement("Deny", "*", "kinesis:DeleteStream")
    admin.put_resource_policy(ResourceARN=stream_arn("open"), Policy=policy(statement("Allow", "*", "*"), keep))
    assert denied(admin.delete_stream, StreamName="open").endswith("with an explicit deny in a resource-based policy")
    assert admin.describe_stream_summary(StreamName="open")["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"


def test_source_ip_conditions(keys):
    admin, _, bob, _ = keys

    def grant_from(cidr):
        condition = {"IpAddress": {"aws:SourceIp": cidr}}
        grant = statement("Allow", {"AWS": user("bob")}, "kinesis:PutRecord", condition=condition)
        admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(grant))

    grant_from("127.0.0.0/8")  # loopback: the test's own address
    bob.put_record(StreamName="shared", Data=b"b", PartitionKey="k")
    grant_from("10.0.0.0/8")
    denied(bob.put_record, StreamName="shared", Data=b"b", PartitionKey="k")
    # a deny from outside a network: the admin on loopback is denied when loopback is outside
    outside = {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    admin.put_resource_policy(
        ResourceARN=stream_arn("shared"), Policy=policy(statement("Deny", "*", "kinesis:PutRecord", condition=outside))
    )
    denied(admin.put_record, StreamName="shared", Data=b"x", PartitionKey="k")


def test_secure_transport_is_false_on_plain_http(keys):
    admin, _, _, _ = keys
    plain = {"Bool": {"aws:SecureTransport": "false"}}
    tls_only = statement("Deny", "*", ["kinesis:DescribeStreamSummary", "kinesis:PutRecord"], condition=plain)
    admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(tls_only))
    assert denied(admin.describe_stream_summary, StreamName="shared").endswith(
        "with an explicit deny in a resource-based policy"
    )
    denied(admin.put_record, StreamName="shared", Data=b"x", PartitionKey="k")
    admin.describe_stream_summary(StreamName="open")  # other streams are not concerned


# start_server's TLS shutdown leaves the server side of a kept-alive connection for the GC, which reports it
# as an unclosed transport: collected here, where it is expected, rather than in whichever test runs next
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_secure_transport_is_true_over_tls(cert_pair):  # noqa: F811
    engine = shardstream.Engine()
    with start_server(engine, auth=KEYS, tls=cert_pair) as srv:
        admin = client(srv.url, "AKIDADMIN", "admin-secret", verify=cert_pair[0])
        admin.create_stream(StreamName="s", ShardCount=1)
        tls_only = statement("Deny", "*", "kinesis:*", condition={"Bool": {"aws:SecureTransport": "false"}})
        admin.put_resource_policy(ResourceARN=stream_arn("s"), Policy=policy(tls_only))
        assert admin.put_record(StreamName="s", Data=b"x", PartitionKey="k")["ShardId"] == SHARD0
        plain_only = statement("Deny", "*", "kinesis:PutRecord", condition={"Bool": {"aws:SecureTransport": True}})
        admin.put_resource_policy(ResourceARN=stream_arn("s"), Policy=policy(plain_only))
        denied(admin.put_record, StreamName="s", Data=b"x", PartitionKey="k")
    del admin
    gc.collect()


def test_consumer_policies_govern_subscribe_to_shard(keys):
    admin, _, bob, _ = keys
    consumer = admin.register_stream_consumer(StreamARN=stream_arn("shared"), ConsumerName="c")["Consumer"]
    arn = consumer["ConsumerARN"]
    try:
        start = {"Type": "TRIM_HORIZON"}
        message = denied(bob.subscribe_to_shard, ConsumerARN=arn, ShardId=SHARD0, StartingPosition=start)
        assert message.startswith(f"User: {user('bob')} is not authorized to perform: kinesis:SubscribeToShard")
        assert f"on resource: {arn} because" in message
        # the stream's policy does not speak for its consumers
        stream_grant = statement("Allow", {"AWS": user("bob")}, "kinesis:SubscribeToShard")
        admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(stream_grant))
        denied(bob.subscribe_to_shard, ConsumerARN=arn, ShardId=SHARD0, StartingPosition=start)
        grant = statement("Allow", {"AWS": user("bob")}, ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"])
        admin.put_resource_policy(ResourceARN=arn, Policy=policy(grant))
        assert bob.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerName"] == "c"
        events = bob.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0, StartingPosition=start)["EventStream"]
        records = next(iter(events))["SubscribeToShardEvent"]["Records"]
        events.close()
        assert records[0]["Data"] == b"shared"
        # an explicit deny on the consumer stops even the unrestricted admin
        admin.put_resource_policy(ResourceARN=arn, Policy=policy(grant, statement("Deny", "*", "kinesis:Subscribe*")))
        denied(admin.subscribe_to_shard, ConsumerARN=arn, ShardId=SHARD0, StartingPosition=start)
        denied(bob.subscribe_to_shard, ConsumerARN=arn, ShardId=SHARD0, StartingPosition=start)
    finally:
        admin.deregister_stream_consumer(ConsumerARN=arn)


def test_an_iterator_reads_only_for_keys_that_may_read_its_stream(keys):
    admin, alice, bob, _ = keys
    iterator = alice.get_shard_iterator(StreamName="open", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    iterator = iterator["ShardIterator"]
    assert alice.get_records(ShardIterator=iterator)["Records"][0]["Data"] == b"open"
    # bob may not read "open": the iterator is authorized against the stream it was issued for
    assert f"kinesis:GetRecords on resource: {stream_arn('open')} because" in denied(
        bob.get_records, ShardIterator=iterator
    )
    # nor does an iterator of "closed", minted by a key that may read it, open "closed" to alice
    closed = admin.get_shard_iterator(StreamName="closed", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    message = denied(alice.get_records, ShardIterator=closed["ShardIterator"], StreamARN=stream_arn("open"))
    assert f"kinesis:GetRecords on resource: {stream_arn('closed')} because" in message
    # a resource policy's deny on the stream holds for iterators too
    no_reads = statement("Deny", {"AWS": user("alice")}, "kinesis:GetRecords")
    admin.put_resource_policy(ResourceARN=stream_arn("open"), Policy=policy(no_reads))
    denied(alice.get_records, ShardIterator=iterator)


def test_a_tampered_iterator_is_refused(keys):
    admin, alice, _, _ = keys
    iterator = admin.get_shard_iterator(StreamName="closed", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    raw = bytearray(base64.b64decode(iterator["ShardIterator"]))
    name_at = raw.index(b"closed")
    raw[name_at : name_at + 6] = b"open\x00\x00"[:6]  # try to point it at another stream
    for tampered in (base64.b64encode(bytes(raw)).decode(), iterator["ShardIterator"][:-4] + "AAAA"):
        with pytest.raises(ClientError) as exc:
            admin.get_records(ShardIterator=tampered)
        assert exc.value.response["Error"]["Code"] == "InvalidArgumentException"
        assert exc.value.response["Error"]["Message"] == "Invalid ShardIterator."
        denied(alice.get_records, ShardIterator=tampered)  # names no stream alice may read


def test_another_account_needs_a_resource_policy(keys):
    admin, _, _, carol = keys
    message = denied(carol.put_record, StreamName="shared", Data=b"c", PartitionKey="k")
    assert message == (
        f"User: {user('carol', ELSEWHERE)} is not authorized to perform: kinesis:PutRecord on resource: "
        f"{stream_arn('shared')} because no resource-based policy allows the kinesis:PutRecord action"
    )
    grant = statement("Allow", {"AWS": f"arn:aws:iam::{ELSEWHERE}:root"}, "kinesis:PutRecord")
    admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=policy(grant))
    carol.put_record(StreamName="shared", Data=b"c", PartitionKey="k")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "Invalid resource policy document: the policy is not valid JSON"),
        (
            '{"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "kinesis:*"}]}',
            'Invalid resource policy document: Statement 1: Effect must be "Allow" or "Deny", not "Permit"',
        ),
        (
            '{"Statement": {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "kinesis:*"}}',
            "Invalid resource policy document: Statement 1.Principal: invalid principal 'bob'",
        ),
    ],
)
def test_invalid_documents_are_refused_and_change_nothing(keys, document, message):
    admin, _, _, _ = keys
    good = policy(statement("Allow", {"AWS": user("bob")}, "kinesis:PutRecord"))
    admin.put_resource_policy(ResourceARN=stream_arn("shared"), Policy=good)
    consumer = admin.register_stream_consumer(StreamARN=stream_arn("shared"), ConsumerName="v")["Consumer"]
    try:
        for arn in (stream_arn("shared"), consumer["ConsumerARN"]):
            with pytest.raises(ClientError) as exc:
                admin.put_resource_policy(ResourceARN=arn, Policy=document)
            error = exc.value.response["Error"]
            assert error["Code"] == "InvalidArgumentException"
            assert error["Message"].startswith(message), error
        assert admin.get_resource_policy(ResourceARN=stream_arn("shared"))["Policy"] == good
        assert admin.get_resource_policy(ResourceARN=consumer["ConsumerARN"])["Policy"] == "{}"
    finally:
        admin.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])


def test_bad_key_tables_are_refused():
    bad = [
        ({"secret": "s", "arn": "alice"}, '"arn" must be a principal ARN'),
        ({"secret": "s", "policy": {"Statement": [{"Effect": "Allow", "Action": "kinesis:*"}]}}, "Resource"),
        ({"secret": "s", "policy": "{nope"}, "not valid JSON"),
        ({"secret": "s", "policy": {"Statement": []}, "streams": ["a"]}, 'give "policy" or "actions"/"streams"'),
        (
            {"secret": "s", "policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}},
            "names no Principal",
        ),
    ]
    for entry, message in bad:
        with pytest.raises(ValueError, match=message):
            AuthConfig.from_dict({"keys": {"K": entry}})


def test_allow_lists_still_work_beside_policies():
    keys = {"keys": {"ADMIN": {"secret": "x"}, "A": {"secret": "a", "streams": ["a"], "actions": ["PutRecord"]}}}
    with start_server(shardstream.Engine(), auth=keys) as srv:
        admin, limited = client(srv.url, "ADMIN", "x"), client(srv.url, "A", "a")
        for name in ("a", "b"):
            admin.create_stream(StreamName=name, ShardCount=1)
        limited.put_record(StreamName="a", Data=b"x", PartitionKey="k")
        denied(limited.put_record, StreamName="b", Data=b"x", PartitionKey="k")
        denied(limited.describe_stream_summary, StreamName="a")
        # a resource policy adds to an allow list, and its deny takes away from it
        grant = statement("Allow", {"AWS": user("A")}, "kinesis:DescribeStreamSummary")
        admin.put_resource_policy(ResourceARN=stream_arn("b"), Policy=policy(grant))
        assert limited.describe_stream_summary(StreamName="b")["StreamDescriptionSummary"]["StreamName"] == "b"
        admin.put_resource_policy(ResourceARN=stream_arn("a"), Policy=policy(statement("Deny", "*", "kinesis:Put*")))
        denied(limited.put_record, StreamName="a", Data=b"x", PartitionKey="k")
        assert admin.list_streams()["StreamNames"] == ["a", "b"]


def test_a_receipt_handle_stays_with_its_queue():
    keys = {"keys": {"ADMIN": {"secret": "x"}, "A": {"secret": "a", "streams": ["a"]}}}
    with start_server(shardstream.Engine(), auth=keys) as srv:

        def call(operation, params, akid="ADMIN", secret="x"):
            return post(srv.url, operation, params, akid, secret)

        queues = {}
        for name in ("a", "b"):
            on_demand = {"StreamMode": "ON_DEMAND"}
            assert call("CreateStream", {"StreamName": name, "StreamModeDetails": on_demand})[0] == 200
            config = [{"StreamARN": stream_arn(name), "StartingPosition": {"Type": "TRIM_HORIZON"}}]
            status, body = call("CreateQueue", {"QueueName": f"q{name}", "StreamConfigurationList": config})
            assert status == 200, body
            queues[name] = body["QueueDescription"]["QueueARN"]
        call("PutRecord", {"StreamName": "b", "Data": "Yg==", "PartitionKey": "k"})
        status, body = call("ReceiveQueueRecords", {"QueueARN": queues["b"], "WaitTimeSeconds": 1})
        entries = [{"ReceiptHandle": body["QueueRecords"][0]["ReceiptHandle"]}]
        # the key limited to "a" cannot use b's handle on b's queue ...
        status, body = call("AcknowledgeQueueRecords", {"QueueARN": queues["b"], "Entries": entries}, "A", "a")
        assert (status, body["__type"]) == (400, "AccessDeniedException")
        # ... and on a's queue the handle names nothing
        status, body = call("AcknowledgeQueueRecords", {"QueueARN": queues["a"], "Entries": entries}, "A", "a")
        assert status == 200 and body["Successful"] == [] and len(body["Failed"]) == 1
        # the delivery is still b's to acknowledge
        status, body = call("AcknowledgeQueueRecords", {"QueueARN": queues["b"], "Entries": entries})
        assert status == 200 and len(body["Successful"]) == 1


def test_serve_refuses_a_key_table_with_a_bad_policy(tmp_path):
    from click.testing import CliRunner

    from shardstream.serve import serve

    bad = tmp_path / "keys.json"
    entry = {"secret": "s", "policy": {"Statement": [{"Effect": "Permit", "Action": "kinesis:*", "Resource": "*"}]}}
    bad.write_text(json.dumps({"keys": {"K": entry}}))
    result = CliRunner().invoke(serve, ["--auth", str(bad), "--port", "0"])
    assert result.exit_code != 0
    assert 'auth config: key K: policy: Statement 1: Effect must be "Allow" or "Deny", not "Permit"' in result.output
