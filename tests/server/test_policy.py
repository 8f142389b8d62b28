"""The IAM policy evaluator (:mod:`shardstream.policy`): grammar, evaluation tables and properties."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream.policy import (
    ALLOWED,
    EXPLICIT_DENY_IDENTITY,
    EXPLICIT_DENY_RESOURCE,
    NO_IDENTITY_ALLOW,
    NO_RESOURCE_ALLOW,
    PolicyError,
    Request,
    denial_message,
    evaluate,
    parse_policy,
)

ACCOUNT = "123456789012"
OTHER = "210987654321"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
CAROL = f"arn:aws:iam::{OTHER}:user/carol"  # another account
STREAM_A = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/a"
STREAM_B = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/b"
CONSUMER_A = f"{STREAM_A}/consumer/c:1700000000"


def doc(*statements, version="2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def identity(*statements):
    return parse_policy(doc(*statements), kind="identity")


def resource(*statements):
    return parse_policy(doc(*statements), kind="resource")


def req(principal=ALICE, action="kinesis:PutRecord", arn=STREAM_A, **context):
    ctx = {"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": False}
    ctx.update({k.replace("_", ":", 1): v for k, v in context.items()})
    return Request(principal, action, arn, ctx)


def allow(action="kinesis:*", arn="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": arn, **extra}


def deny(action="kinesis:*", arn="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": arn, **extra}


# -- grammar ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "kind", "message"),
    [
        ("{nope", "resource", "the policy is not valid JSON"),
        ("[]", "resource", "the policy must be a JSON object"),
        ({"Version": "2020-01-01"}, "resource", "Version must be one of 2012-10-17, 2008-10-17"),
        ({"Statement": ["x"]}, "resource", "Statement 1 must be an object"),
        ({"Statement": 5}, "resource", "Statement must be an object or a list of objects"),
        (doc({"Effect": "Permit", "Action": "kinesis:*"}), "resource", 'Statement 1: Effect must be "Allow" or "Deny"'),
        (doc({"Action": "kinesis:*"}), "resource", 'Effect must be "Allow" or "Deny", not null'),
        (doc({"Effect": "Allow"}), "resource", "Statement 1: Action or NotAction is required"),
        (
            doc({"Effect": "Allow", "Action": "kinesis:*", "NotAction": "kinesis:Get*"}),
            "resource",
            "give Action or NotAction, not both",
        ),
        (doc({"Effect": "Allow", "Action": "PutRecord"}), "resource", "invalid action 'PutRecord'"),
        (doc({"Effect": "Allow", "Action": []}), "resource", "Action must be a string or a non-empty list"),
        (doc({"Effect": "Allow", "Action": "kinesis:*", "Resource": "stream/a"}), "resource", "invalid resource"),
        (doc({"Effect": "Allow", "Action": "kinesis:*", "Colour": "red"}), "resource", "unknown element 'Colour'"),
        (doc({"Effect": "Allow", "Action": "kinesis:*"}), "identity", "Resource or NotResource is required"),
        (doc(allow(Principal="*")), "identity", "an identity-based policy names no Principal"),
        (doc(allow(Principal={"AWS": "alice"})), "resource", "invalid principal 'alice'"),
        (doc(allow(Principal=[])), "resource", 'must be "*" or an object'),
        (doc(allow(Condition={"NumericLessThan": {"x": "1"}})), "resource", "unsupported condition operator"),
        (doc(allow(Condition={"Maybe:StringEquals": {"x": "1"}})), "resource", "unknown condition operator"),
        (doc(allow(Condition={"IpAddress": {"aws:SourceIp": "300.0.0.0/8"}})), "resource", "300.0.0.0/8"),
        (doc(allow(Condition={"Bool": {"aws:SecureTransport": "yes"}})), "resource", 'Bool takes "true" or "false"'),
        (doc(allow(Condition={"StringEquals": {}})), "resource", "must be an object of condition keys"),
        (doc(allow(Condition={"StringEquals": {"k": []}})), "resource", "has no values"),
        (doc(allow(Condition={"StringEquals": {"k": {"a": 1}}})), "resource", "condition values must be"),
    ],
)
def test_documents_iam_would_refuse(document, kind, message):
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(text, kind=kind)


def test_documents_iam_accepts():
    # a single statement object, principals of every form, NotX elements, other top-level members ignored
    policy = parse_policy(
        {
            "Version": "2008-10-17",
            "Id": "p",
            "Comment": "kept and ignored",
            "Statement": {
                "Sid": "s",
                "Effect": "Deny",
                "NotPrincipal": {"AWS": [ACCOUNT, f"arn:aws:iam::{OTHER}:root", ALICE], "Service": "x.amazonaws.com"},
                "NotAction": ["kinesis:Get*", "kinesis:?escribe*"],
                "NotResource": STREAM_A,
                "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalArn": ["*alice"]}, "Null": {"k": True}},
            },
        }
    )
    assert len(policy.statements) == 1 and policy.statements[0].sid == "s"
    assert parse_policy("{}").statements == ()
    assert parse_policy('{"a": 1}').statements == ()  # members other than Version, Id, Statement are ignored
    with pytest.raises(ValueError):
        parse_policy("{}", kind="session")


# -- evaluation tables --------------------------------------------------------------------------------


IDENTITY_TABLE = [
    # (identity statements, request, reason)
    ([allow()], req(), ALLOWED),
    ([], req(), NO_IDENTITY_ALLOW),
    ([allow("kinesis:Get*")], req(action="kinesis:GetRecords"), ALLOWED),
    ([allow("kinesis:Get*")], req(action="kinesis:getshardITERATOR"), ALLOWED),  # actions ignore case
    ([allow("kinesis:Get*")], req(action="kinesis:PutRecord"), NO_IDENTITY_ALLOW),
    ([allow("kinesis:?utRecord")], req(action="kinesis:PutRecord"), ALLOWED),
    ([allow("kinesis:?utRecord")], req(action="kinesis:PutRecords"), NO_IDENTITY_ALLOW),
    ([allow("*")], req(action="kinesis:PutRecord"), ALLOWED),
    ([{"Effect": "Allow", "NotAction": "kinesis:Delete*", "Resource": "*"}], req(), ALLOWED),
    ([{"Effect": "Allow", "NotAction": "kinesis:Delete*", "Resource": "*"}], req(action="kinesis:DeleteStream"),
     NO_IDENTITY_ALLOW),
    ([allow(arn="arn:aws:kinesis:*:*:stream/a")], req(), ALLOWED),
    ([allow(arn="arn:aws:kinesis:*:*:stream/a")], req(arn=STREAM_B), NO_IDENTITY_ALLOW),
    ([allow(arn="arn:aws:kinesis:*:*:stream/A")], req(), NO_IDENTITY_ALLOW),  # resources are case-sensitive
    ([allow(arn="arn:aws:kinesis:*:*:stream/a")], req(arn=CONSUMER_A), NO_IDENTITY_ALLOW),
    ([allow(arn="arn:aws:kinesis:*:*:stream/a*")], req(arn=CONSUMER_A), ALLOWED),
    ([{"Effect": "Allow", "Action": "kinesis:*", "NotResource": STREAM_B}], req(), ALLOWED),
    ([{"Effect": "Allow", "Action": "kinesis:*", "NotResource": STREAM_B}], req(arn=STREAM_B), NO_IDENTITY_ALLOW),
    ([allow(), deny("kinesis:PutRecord")], req(), EXPLICIT_DENY_IDENTITY),
    ([allow(), deny(arn=STREAM_B)], req(), ALLOWED),
    # conditions
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})], req(), ALLOWED),
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], req(), NO_IDENTITY_ALLOW),
    ([allow(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1"]}})], req(), ALLOWED),
    ([allow(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], req(), ALLOWED),
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})], req(aws_SourceIp="::ffff:127.0.0.5"),
     ALLOWED),
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "::1/128"}})], req(aws_SourceIp="::1"), ALLOWED),
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})], req(aws_SourceIp="garbage"),
     NO_IDENTITY_ALLOW),
    ([allow(Condition={"Bool": {"aws:SecureTransport": "false"}})], req(), ALLOWED),
    ([allow(Condition={"Bool": {"aws:SecureTransport": True}})], req(), NO_IDENTITY_ALLOW),
    ([allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], req(), EXPLICIT_DENY_IDENTITY),
    ([allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], req(aws_SecureTransport=True), ALLOWED),
    ([allow(Condition={"StringEquals": {"AWS:principalarn": ALICE}})], req(aws_PrincipalArn=ALICE), ALLOWED),
    ([allow(Condition={"StringEquals": {"aws:PrincipalArn": ALICE}})], req(aws_PrincipalArn=BOB), NO_IDENTITY_ALLOW),
    ([allow(Condition={"StringEqualsIgnoreCase": {"aws:username": "ALICE"}})], req(aws_username="alice"), ALLOWED),
    ([allow(Condition={"StringLike": {"aws:SourceIp": "127.*"}})], req(), ALLOWED),
    ([allow(Condition={"StringNotLike": {"aws:SourceIp": "127.*"}})], req(), NO_IDENTITY_ALLOW),
    ([allow(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}})], req(aws_PrincipalArn=ALICE),
     ALLOWED),
    # absent keys: positive operators fail, negated ones and IfExists hold, Null tests presence
    ([allow(Condition={"StringEquals": {"aws:Missing": "x"}})], req(), NO_IDENTITY_ALLOW),
    ([allow(Condition={"StringNotEquals": {"aws:Missing": "x"}})], req(), ALLOWED),
    ([allow(Condition={"StringEqualsIfExists": {"aws:Missing": "x"}})], req(), ALLOWED),
    ([allow(Condition={"StringEqualsIfExists": {"aws:SourceIp": "x"}})], req(), NO_IDENTITY_ALLOW),
    ([allow(Condition={"Null": {"aws:Missing": "true"}})], req(), ALLOWED),
    ([allow(Condition={"Null": {"aws:SourceIp": "true"}})], req(), NO_IDENTITY_ALLOW),
    ([allow(Condition={"ForAllValues:StringEquals": {"aws:Missing": "x"}})], req(), ALLOWED),
    ([allow(Condition={"ForAllValues:StringLike": {"aws:SourceIp": ["127.*", "10.*"]}})], req(), ALLOWED),
    # operators and keys are ANDed
    ([allow(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}})],
     req(), NO_IDENTITY_ALLOW),
]  # fmt: skip


@pytest.mark.parametrize(("statements", "request_", "reason"), IDENTITY_TABLE)
def test_identity_policies(statements, request_, reason):
    decision = evaluate(request_, [identity(*statements)])
    assert decision == (reason == ALLOWED, reason)


RESOURCE_TABLE = [
    # (identity statements, resource statements, request, reason); the resource is in ACCOUNT
    ([], [allow(Principal={"AWS": ALICE})], req(), ALLOWED),  # same account: the resource policy alone allows
    ([], [allow(Principal="*")], req(), ALLOWED),
    ([], [allow(Principal={"AWS": "*"})], req(principal=BOB), ALLOWED),
    ([], [allow(Principal={"AWS": BOB})], req(), NO_IDENTITY_ALLOW),
    ([], [{"Effect": "Allow", "Action": "kinesis:*"}], req(), NO_IDENTITY_ALLOW),  # no principal: nobody
    ([], [{"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kinesis:*"}], req(), ALLOWED),  # any resource
    # an account principal delegates to the account's identity policies
    ([], [allow(Principal={"AWS": ACCOUNT})], req(), NO_IDENTITY_ALLOW),
    ([], [allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], req(), NO_IDENTITY_ALLOW),
    ([allow()], [allow(Principal={"AWS": ACCOUNT})], req(), ALLOWED),
    # explicit deny in the resource policy wins over any allow
    ([allow()], [deny(Principal={"AWS": ALICE})], req(), EXPLICIT_DENY_RESOURCE),
    ([allow()], [deny(Principal={"AWS": ACCOUNT})], req(), EXPLICIT_DENY_RESOURCE),  # the account's principals
    ([allow()], [deny(Principal="*"), allow(Principal="*")], req(), EXPLICIT_DENY_RESOURCE),
    ([allow()], [deny(Principal={"AWS": BOB})], req(), ALLOWED),
    ([allow()], [{"Effect": "Deny", "NotPrincipal": {"AWS": BOB}, "Action": "kinesis:*"}], req(),
     EXPLICIT_DENY_RESOURCE),
    ([allow()], [{"Effect": "Deny", "NotPrincipal": {"AWS": ALICE}, "Action": "kinesis:*"}], req(), ALLOWED),
    ([allow()], [deny("kinesis:PutRecord", Principal="*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})],
     req(), ALLOWED),
    ([allow()], [deny(Principal="*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], req(),
     EXPLICIT_DENY_RESOURCE),
    ([deny()], [allow(Principal="*")], req(), EXPLICIT_DENY_IDENTITY),
    # across accounts: both an identity allow and a resource allow naming the caller or its account
    ([allow()], [], req(principal=CAROL), NO_RESOURCE_ALLOW),
    ([], [allow(Principal={"AWS": CAROL})], req(principal=CAROL), NO_IDENTITY_ALLOW),
    ([allow()], [allow(Principal={"AWS": CAROL})], req(principal=CAROL), ALLOWED),
    ([allow()], [allow(Principal={"AWS": OTHER})], req(principal=CAROL), ALLOWED),
    ([allow()], [allow(Principal={"AWS": ALICE})], req(principal=CAROL), NO_RESOURCE_ALLOW),
]  # fmt: skip


@pytest.mark.parametrize(("identity_statements", "resource_statements", "request_", "reason"), RESOURCE_TABLE)
def test_resource_policies(identity_statements, resource_statements, request_, reason):
    decision = evaluate(request_, [identity(*identity_statements)], resource(*resource_statements), ACCOUNT)
    assert decision == (reason == ALLOWED, reason)


def test_denial_messages_are_aws_texts():
    head = f"User: {ALICE} is not authorized to perform: kinesis:PutRecord on resource: {STREAM_A}"
    assert denial_message(NO_IDENTITY_ALLOW, ALICE, "kinesis:PutRecord", STREAM_A) == (
        f"{head} because no identity-based policy allows the kinesis:PutRecord action"
    )
    assert denial_message(NO_RESOURCE_ALLOW, ALICE, "kinesis:PutRecord", STREAM_A) == (
        f"{head} because no resource-based policy allows the kinesis:PutRecord action"
    )
    assert denial_message(EXPLICIT_DENY_IDENTITY, ALICE, "kinesis:PutRecord", STREAM_A) == (
        f"{head} with an explicit deny in an identity-based policy"
    )
    assert denial_message(EXPLICIT_DENY_RESOURCE, ALICE, "kinesis:PutRecord", STREAM_A) == (
        f"{head} with an explicit deny in a resource-based policy"
    )


# -- properties ---------------------------------------------------------------------------------------

ACTIONS = ["kinesis:PutRecord", "kinesis:GetRecords", "kinesis:DescribeStream", "kinesis:SubscribeToShard"]
RESOURCES = [STREAM_A, STREAM_B, CONSUMER_A, "*"]
PRINCIPALS = [ALICE, BOB, CAROL]

conditions = st.sampled_from(
    [
        None,
        {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"Bool": {"aws:SecureTransport": "false"}},
        {"StringLike": {"aws:PrincipalArn": "*/alice"}},
    ]
)
action_elements = st.sampled_from(["*", "kinesis:*", "kinesis:Get*", "kinesis:PutRecord", "kinesis:*Stream*"])
resource_elements = st.sampled_from(["*", STREAM_A, "arn:aws:kinesis:*:*:stream/*", "arn:aws:kinesis:*:*:stream/b"])
principal_elements = st.sampled_from(
    ["*", {"AWS": ALICE}, {"AWS": BOB}, {"AWS": CAROL}, {"AWS": ACCOUNT}, {"AWS": OTHER}]
)


@st.composite
def statements(draw, kind: str, effect=None):
    out = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        ("NotAction" if draw(st.booleans()) else "Action"): draw(action_elements),
        ("NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"): draw(resource_elements),
    }
    if kind == "resource":
        out["NotPrincipal" if draw(st.integers(0, 4)) == 0 else "Principal"] = draw(principal_elements)
    condition = draw(conditions)
    if condition is not None:
        out["Condition"] = condition
    return out


requests = st.builds(
    lambda p, a, r, ip, tls: Request(p, a, r, {"aws:SourceIp": ip, "aws:SecureTransport": tls, "aws:PrincipalArn": p}),
    st.sampled_from(PRINCIPALS),
    st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES),
    st.sampled_from(["127.0.0.1", "10.1.2.3", "::1"]),
    st.booleans(),
)
id_lists = st.lists(statements("identity"), max_size=4)
res_lists = st.lists(statements("resource"), max_size=4)


def decide(request, id_statements, res_statements):
    return evaluate(request, [identity(*id_statements)], resource(*res_statements) if res_statements else None, ACCOUNT)


@settings(max_examples=300, deadline=None)
@given(requests, id_lists, res_lists, st.data())
def test_order_of_statements_does_not_matter(request, id_statements, res_statements, data):
    before = decide(request, id_statements, res_statements)
    shuffled_id = data.draw(st.permutations(id_statements))
    shuffled_res = data.draw(st.permutations(res_statements))
    assert decide(request, shuffled_id, shuffled_res) == before


@settings(max_examples=300, deadline=None)
@given(requests, id_lists, res_lists, st.data())
def test_an_explicit_deny_never_allows(request, id_statements, res_statements, data):
    before = decide(request, id_statements, res_statements)
    if data.draw(st.booleans()):
        extra = data.draw(statements("identity", effect="Deny"))
        after = decide(request, [*id_statements, extra], res_statements)
        applies = identity(extra).statements[0].applies(request)
    else:
        extra = data.draw(statements("resource", effect="Deny"))
        after = decide(request, id_statements, [*res_statements, extra])
        st_ = resource(extra).statements[0]
        applies = st_.applies(request) and st_.principal_match(request) is not None
    assert after.allowed <= before.allowed  # a deny stays a deny
    if applies:
        assert not after.allowed and after.reason in (EXPLICIT_DENY_IDENTITY, EXPLICIT_DENY_RESOURCE)


@settings(max_examples=300, deadline=None)
@given(requests, id_lists, res_lists, st.data())
def test_an_allow_never_denies(request, id_statements, res_statements, data):
    before = decide(request, id_statements, res_statements)
    if data.draw(st.booleans()):
        after = decide(request, [*id_statements, data.draw(statements("identity", effect="Allow"))], res_statements)
    else:
        after = decide(request, id_statements, [*res_statements, data.draw(statements("resource", effect="Allow"))])
    assert after.allowed >= before.allowed


@settings(max_examples=200, deadline=None)
@given(requests, id_lists)
def test_without_any_allow_everything_is_denied(request, id_statements):
    denies = [s for s in id_statements if s["Effect"] == "Deny"]
    assert not decide(request, denies, []).allowed


@settings(max_examples=300, deadline=None)
@given(st.text("abcGetPu*?", min_size=1, max_size=8), st.text("abcGetPuABC", min_size=1, max_size=8))
def test_action_wildcards_are_globs_ignoring_case(pattern, name):
    policy = identity(allow(f"kinesis:{pattern}"))
    expected = fnmatch.fnmatchcase(name.lower(), pattern.lower())
    assert evaluate(req(action=f"kinesis:{name}"), [policy]).allowed == expected
    assert not evaluate(req(action=f"other:{name}"), [policy]).allowed


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=4), st.integers(0, 32), st.ip_addresses(v=4))
def test_ip_conditions_are_cidr_membership(base, prefix, address):
    network = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    policy = identity(allow(Condition={"IpAddress": {"aws:SourceIp": str(network)}}))
    decision = evaluate(req(aws_SourceIp=str(address)), [policy])
    assert decision.allowed == (address in network)
    negated = identity(allow(Condition={"NotIpAddress": {"aws:SourceIp": str(network)}}))
    assert evaluate(req(aws_SourceIp=str(address)), [negated]).allowed == (address not in network)
