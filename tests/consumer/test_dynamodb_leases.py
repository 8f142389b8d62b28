"""DynamoDBLeaseStore on moto's DynamoDB (server mode, loopback): the KCL's table both ways, races
between workers on one table, the table made on first use, ``dynamodb://`` lease URLs, a Consumer
on it, and a state machine holding it to MemoryLeaseStore.  (The contract every store keeps runs
on it in ``test_leases.py``.)"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid

import botocore.session
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from moto_process import SerialMoto

import shardstream
from shardstream.consumer import DynamoDBLeaseStore, Lease, MemoryLeaseStore, open_lease_store
from shardstream.consumer.dynamodb import lease_from_item, lease_to_item
from shardstream.errors import ResourceNotFoundException

SESSION = botocore.session.get_session()  # one session: it loads the service model once


@pytest.fixture(scope="module")
def moto_url():
    """moto's server (DynamoDB) in this process on a free loopback port, one request at a time."""
    with SerialMoto() as moto:
        yield moto.url


def make_client(url: str):
    return SESSION.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=url, aws_access_key_id="k", aws_secret_access_key="s"
    )


@pytest.fixture
def client(moto_url):
    c = make_client(moto_url)
    yield c
    c.close()


@pytest.fixture
def table():
    return f"leases-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """botocore's usual configuration pointed at moto (what an AWS machine would have)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)


# -- the KCL's table, both ways ------------------------------------------------------------------

KCL_ITEM = {  # a lease as the KCL (2.x/3.x) writes it, with attributes this store does not know
    "leaseKey": {"S": "shardId-000000000002"},
    "leaseOwner": {"S": "kcl-worker-1"},
    "leaseCounter": {"N": "41"},
    "checkpoint": {"S": "49590338271490256608559692538361571095921575989136588898"},
    "checkpointSubSequenceNumber": {"N": "3"},
    "ownerSwitchesSinceCheckpoint": {"N": "2"},
    "parentShardId": {"SS": ["shardId-000000000001", "shardId-000000000000"]},
    "childShardIds": {"SS": ["shardId-000000000004"]},
    "startingHashKey": {"S": "0"},
    "endingHashKey": {"S": "170141183460469231731687303715884105727"},
    "pendingCheckpoint": {"S": "49590338271490256608559692538361571095921575989136588999"},
    "pendingCheckpointSubSequenceNumber": {"N": "0"},
    "throughputKBps": {"N": "12.5"},
}


def test_a_kcl_written_lease_reads_and_writes_here(client, table):
    store = DynamoDBLeaseStore(table, client=client)
    store.ensure_table()
    client.put_item(TableName=table, Item=KCL_ITEM)
    client.put_item(TableName=table, Item={"leaseKey": {"S": "bare"}})
    lease = store.get("shardId-000000000002")
    assert lease == Lease(
        "shardId-000000000002",
        owner="kcl-worker-1",
        counter=41,
        checkpoint=KCL_ITEM["checkpoint"]["S"],
        checkpoint_sub_sequence_number=3,
        owner_switches_since_checkpoint=2,
        parent_shard_ids=("shardId-000000000000", "shardId-000000000001"),
        child_shard_ids=("shardId-000000000004",),
        starting_hash_key="0",
        ending_hash_key="170141183460469231731687303715884105727",
    )
    assert store.get("bare") == Lease("bare")  # what the KCL leaves out reads as its defaults
    assert store.take("bare", 0, "w").counter == 1 and store.renew("bare", "w").counter == 2
    assert store.checkpoint("bare", "w", "7") and store.release("bare", "w")
    assert store.get("bare") == Lease("bare", counter=4, checkpoint="7")
    # taking it over and checkpointing: the KCL's changes; what we do not know stays, pending goes
    taken = store.take("shardId-000000000002", 41, "ours")
    assert (taken.owner, taken.counter, taken.owner_switches_since_checkpoint) == ("ours", 42, 3)
    assert store.checkpoint("shardId-000000000002", "ours", "49590338271490256608559692538361571095921575989136589000")
    item = client.get_item(TableName=table, Key={"leaseKey": {"S": "shardId-000000000002"}})["Item"]
    assert item["throughputKBps"] == {"N": "12.5"} and item["parentShardId"] == KCL_ITEM["parentShardId"]
    assert "pendingCheckpoint" not in item and "pendingCheckpointSubSequenceNumber" not in item
    assert item["leaseCounter"] == {"N": "43"} and item["ownerSwitchesSinceCheckpoint"] == {"N": "0"}
    assert item["checkpointSubSequenceNumber"] == {"N": "0"} and item["leaseOwner"] == {"S": "ours"}


def test_leases_written_here_are_the_kcls_items(client, table):
    store = DynamoDBLeaseStore(table, client=client)
    lease = Lease(
        "shardId-000000000003",
        parent_shard_ids=("shardId-000000000001",),
        starting_hash_key="1",
        ending_hash_key="99",
    )
    assert store.create_if_absent(lease)
    item = client.get_item(TableName=table, Key={"leaseKey": {"S": "shardId-000000000003"}})["Item"]
    assert item == {
        "leaseKey": {"S": "shardId-000000000003"},
        "leaseCounter": {"N": "0"},
        "checkpoint": {"S": "TRIM_HORIZON"},
        "checkpointSubSequenceNumber": {"N": "0"},
        "ownerSwitchesSinceCheckpoint": {"N": "0"},
        "parentShardId": {"SS": ["shardId-000000000001"]},
        "startingHashKey": {"S": "1"},
        "endingHashKey": {"S": "99"},
    }
    store.take("shardId-000000000003", 0, "w")
    store.set_children("shardId-000000000003", ["shardId-000000000005", "shardId-000000000004"])
    store.release("shardId-000000000003", "w")
    item = client.get_item(TableName=table, Key={"leaseKey": {"S": "shardId-000000000003"}})["Item"]
    assert "leaseOwner" not in item and item["leaseCounter"] == {"N": "2"}  # released as the KCL evicts
    assert item["childShardIds"] == {"SS": ["shardId-000000000004", "shardId-000000000005"]}
    assert lease_from_item(lease_to_item(store.get("shardId-000000000003"))) == store.get("shardId-000000000003")


def test_the_table_is_made_on_first_use_with_the_kcls_key(client, table):
    store = DynamoDBLeaseStore(table, client=client)
    assert table not in client.list_tables()["TableNames"]  # nothing happens until it is used
    assert store.list() == []
    description = client.describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}]
    assert description["AttributeDefinitions"] == [{"AttributeName": "leaseKey", "AttributeType": "S"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert description["TableStatus"] == "ACTIVE"


def test_workers_creating_the_table_at_once_all_get_it(moto_url, table):
    stores = [DynamoDBLeaseStore(table, client=make_client(moto_url)) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results, errors = [], []

    def first_use(store):
        barrier.wait()
        try:
            results.append(store.create_if_absent(Lease("s")))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [False, False, False, True]
    for store in stores:
        store.client.close()


def test_a_missing_table_without_create_is_a_clear_error(client, table):
    store = DynamoDBLeaseStore(table, client=client, create=False)
    with pytest.raises(ResourceNotFoundException, match=f"Table: {table} not found"):
        store.list()
    assert table not in client.list_tables()["TableNames"]


def test_a_table_with_another_key_is_refused(client, table):
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ValueError, match="is not a lease table"):
        DynamoDBLeaseStore(table, client=client).list()


@pytest.mark.parametrize("name", ["ab", "a" * 256, "has space", "slash/es", "", None])
def test_invalid_table_names_are_refused(name, client):
    with pytest.raises(ValueError, match="invalid DynamoDB table name"):
        DynamoDBLeaseStore(name, client=client)


# -- losing is an answer, not an error -----------------------------------------------------------


def test_writes_on_missing_or_foreign_leases_answer_lost_and_change_nothing(client, table):
    store = DynamoDBLeaseStore(table, client=client)
    assert store.take("nope", 0, "w") is None
    assert store.renew("nope", "w") is None
    assert not store.release("nope", "w")
    assert not store.checkpoint("nope", "w", "1")
    store.set_children("nope", ["c"])
    store.delete("nope")
    assert store.list() == []  # no write made an item
    store.create_if_absent(Lease("s"))
    store.take("s", 0, "w1")
    before = store.get("s")
    assert store.take("s", 0, "w2") is None and store.renew("s", "w2") is None
    assert not store.checkpoint("s", "w2", "5") and not store.release("s", "w2")
    assert store.get("s") == before


def test_of_two_workers_taking_at_once_exactly_one_wins(moto_url, table):
    a, b = (
        DynamoDBLeaseStore(table, client=make_client(moto_url)),
        DynamoDBLeaseStore(table, client=make_client(moto_url)),
    )
    keys = [f"shardId-{i:012d}" for i in range(12)]
    for key in keys:
        a.create_if_absent(Lease(key))
    barrier = threading.Barrier(2)
    won: dict[str, list[str]] = {"a": [], "b": []}

    def take_all(store, name):
        for key in keys:
            barrier.wait()
            if store.take(key, 0, name) is not None:
                won[name].append(key)

    threads = [threading.Thread(target=take_all, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won["a"] + won["b"]) == keys  # each lease went to exactly one of them
    assert {lease.lease_key: lease.owner for lease in b.list()} == {
        **{k: "a" for k in won["a"]},
        **{k: "b" for k in won["b"]},
    }
    assert all(lease.counter == 1 for lease in a.list())
    a.client.close()
    b.client.close()


# -- dynamodb:// and a Consumer on it ------------------------------------------------------------


def test_dynamodb_urls_open_the_table_from_botocores_configuration(aws_env, client):
    store = open_lease_store("dynamodb://billing-leases", "billing")
    assert isinstance(store, DynamoDBLeaseStore) and store.table == "billing-leases"
    store.create_if_absent(Lease("s"))
    assert "billing-leases" in client.list_tables()["TableNames"]  # on moto, via AWS_ENDPOINT_URL_DYNAMODB
    store.close()
    named = open_lease_store("dynamodb://", "audit.v2")
    assert named.table == "audit.v2"  # the group's name, as the KCL names its table after the application
    named.close()
    for bad in ("dynamodb://t/extra", "dynamodb://t?region=x", "s3://bucket/leases"):
        with pytest.raises(ValueError):
            open_lease_store(bad, "g")


def test_a_consumer_keeps_its_leases_in_dynamodb(aws_env, client, table):
    stream = shardstream.Engine().create_stream("orders", shard_count=2)
    stream.put_batch([f"k{i}" for i in range(50)], [b"%d" % i for i in range(50)])
    seen = []

    class Collect(shardstream.RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            seen.extend(records.column("data").to_pylist())
            checkpointer.checkpoint()

    consumer = shardstream.Consumer(stream, "orders", Collect, leases=f"dynamodb://{table}", failover_ms=300)
    with consumer:
        assert consumer.wait_until(lambda: len(seen) == 50, timeout=20)
        assert consumer.wait_until(lambda: len(consumer.held_shards) == 2, timeout=10)
    assert sorted(seen) == sorted(b"%d" % i for i in range(50))
    leases = DynamoDBLeaseStore(table, client=client).list()
    assert [lease.lease_key for lease in leases] == ["shardId-000000000000", "shardId-000000000001"]
    assert all(lease.owner is None and lease.checkpoint.isdigit() for lease in leases)  # checkpointed, released


# -- the DynamoDB store behaves as the in-memory one, step by step --------------------------------

KEYS = st.sampled_from(["s0", "s1", "s2"])
OWNERS = st.sampled_from(["w1", "w2"])


class LeaseTableMachine(RuleBasedStateMachine):
    """Every operation on the DynamoDB store answers as on :class:`MemoryLeaseStore`, and both
    hold the same leases after it."""

    def __init__(self, url: str):
        super().__init__()
        self.model = MemoryLeaseStore()
        self.client = make_client(url)
        self.table = f"sm-{uuid.uuid4().hex[:12]}"
        self.store = DynamoDBLeaseStore(self.table, client=self.client)

    @initialize(keys=st.lists(KEYS, unique=True))
    def some_leases(self, keys):
        for key in keys:
            self.create(key, [])

    @rule(key=KEYS, parents=st.lists(st.sampled_from(["p0", "p1"]), unique=True, max_size=2))
    def create(self, key, parents):
        lease = Lease(key, parent_shard_ids=tuple(sorted(parents)), starting_hash_key="0", ending_hash_key="9")
        assert self.store.create_if_absent(lease) == self.model.create_if_absent(lease)

    @rule(key=KEYS, owner=OWNERS, stale=st.booleans())
    def take(self, key, owner, stale):
        seen = self.model.get(key)
        counter = 0 if seen is None else seen.counter - (1 if stale and seen.counter else 0)
        assert self.store.take(key, counter, owner) == self.model.take(key, counter, owner)

    @rule(key=KEYS, owner=OWNERS)
    def renew(self, key, owner):
        assert self.store.renew(key, owner) == self.model.renew(key, owner)

    @rule(key=KEYS, owner=OWNERS)
    def release(self, key, owner):
        assert self.store.release(key, owner) == self.model.release(key, owner)

    @rule(key=KEYS, owner=OWNERS, seq=st.sampled_from(["1", "22", "SHARD_END"]), sub=st.integers(0, 3))
    def checkpoint(self, key, owner, seq, sub):
        assert self.store.checkpoint(key, owner, seq, sub) == self.model.checkpoint(key, owner, seq, sub)

    @rule(key=KEYS, children=st.lists(st.sampled_from(["c0", "c1"]), unique=True))
    def set_children(self, key, children):
        self.store.set_children(key, sorted(children))
        self.model.set_children(key, sorted(children))

    @rule(key=KEYS)
    def delete(self, key):
        self.store.delete(key)
        self.model.delete(key)

    @invariant()
    def same_table(self):
        assert self.store.list() == self.model.list()

    def teardown(self):
        self.store.ensure_table()
        self.client.delete_table(TableName=self.table)
        self.client.close()


def test_the_dynamodb_store_behaves_as_the_memory_store(moto_url):
    run_state_machine_as_test(
        lambda: LeaseTableMachine(moto_url),
        settings=settings(
            max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )


def test_leases_survive_the_item_round_trip():
    lease = Lease("s", owner="w", counter=7, checkpoint="SHARD_END", parent_shard_ids=("a", "b"))
    assert lease_from_item(lease_to_item(lease)) == lease
    assert lease_from_item(lease_to_item(dataclasses.replace(lease, owner=None))).owner is None
