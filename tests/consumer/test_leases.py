"""Lease tables: conditional writes, shared by two handles on one table - in memory, in one SQLite
file and in one DynamoDB table (moto's server on loopback) - the same contract for each store."""

from __future__ import annotations

import uuid

import botocore.session
import pytest
from moto_process import SerialMoto

from shardstream.consumer import DynamoDBLeaseStore, Lease, MemoryLeaseStore, SQLiteLeaseStore

SESSION = botocore.session.get_session()  # one session: it loads the service model once


@pytest.fixture(scope="module")
def moto_url():
    """moto's server (DynamoDB) in this process on a free loopback port, one request at a time."""
    with SerialMoto() as moto:
        yield moto.url


def dynamodb(url: str):
    """A botocore DynamoDB client on moto."""
    return SESSION.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=url, aws_access_key_id="k", aws_secret_access_key="s"
    )


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def stores(request, tmp_path):
    """Two handles on one table (two workers' views)."""
    if request.param == "memory":
        store = MemoryLeaseStore()
        yield store, store
    elif request.param == "sqlite":
        a, b = SQLiteLeaseStore(tmp_path / "leases.db", "g"), SQLiteLeaseStore(tmp_path / "leases.db", "g")
        yield a, b
        a.close()
        b.close()
    else:
        url, table = request.getfixturevalue("moto_url"), f"leases-{uuid.uuid4().hex}"
        a, b = DynamoDBLeaseStore(table, client=dynamodb(url)), DynamoDBLeaseStore(table, client=dynamodb(url))
        yield a, b
        a.client.delete_table(TableName=table)
        a.client.close()
        b.client.close()


def test_create_is_idempotent_and_lists_by_key(stores):
    a, b = stores
    assert a.create_if_absent(Lease("shardId-000000000001", parent_shard_ids=("shardId-000000000000",)))
    assert a.create_if_absent(Lease("shardId-000000000000", checkpoint="LATEST"))
    assert not b.create_if_absent(Lease("shardId-000000000000", checkpoint="TRIM_HORIZON"))
    leases = b.list()
    assert [lease.lease_key for lease in leases] == ["shardId-000000000000", "shardId-000000000001"]
    assert leases[0].checkpoint == "LATEST" and leases[0].owner is None and leases[0].counter == 0
    assert leases[1].parent_shard_ids == ("shardId-000000000000",)


def test_take_is_conditional_on_the_counter_seen(stores):
    a, b = stores
    a.create_if_absent(Lease("s"))
    seen = b.get("s")
    taken = a.take("s", seen.counter, "w1")
    assert taken.owner == "w1" and taken.counter == 1 and taken.owner_switches_since_checkpoint == 1
    assert b.take("s", seen.counter, "w2") is None  # w1 won the race
    assert b.get("s").owner == "w1"
    stolen = b.take("s", 1, "w2")
    assert stolen.owner == "w2" and stolen.owner_switches_since_checkpoint == 2


def test_renew_checkpoint_and_release_need_ownership(stores):
    a, b = stores
    a.create_if_absent(Lease("s"))
    a.take("s", 0, "w1")
    assert a.checkpoint("s", "w1", "49000000000000000000000000000000000000000000000000000001")
    assert a.renew("s", "w1").counter == 3  # take, checkpoint, renew
    assert b.take("s", 3, "w2") is not None
    assert a.renew("s", "w1") is None  # lost
    assert not a.checkpoint("s", "w1", "49000000000000000000000000000000000000000000000000000002")
    assert not a.release("s", "w1")
    lease = b.get("s")
    assert lease.checkpoint.endswith("1") and lease.owner == "w2" and lease.owner_switches_since_checkpoint == 1
    assert b.release("s", "w2") and b.get("s").owner is None


def test_children_finish_and_delete(stores):
    a, b = stores
    a.create_if_absent(Lease("p"))
    a.take("p", 0, "w")
    a.set_children("p", ["c1", "c2"])
    assert a.checkpoint("p", "w", "SHARD_END")
    lease = b.get("p")
    assert lease.finished and lease.child_shard_ids == ("c1", "c2") and lease.owner_switches_since_checkpoint == 0
    b.delete("p")
    assert a.get("p") is None


def test_reset_is_conditional_on_the_counter_and_frees_the_lease(stores):
    a, b = stores
    assert not a.reset("missing", 0, "TRIM_HORIZON")
    a.create_if_absent(Lease("s"))
    a.take("s", 0, "w1")
    assert a.checkpoint("s", "w1", "49000000000000000000000000000000000000000000000000000009")
    seen = b.get("s")  # counter 2
    assert a.renew("s", "w1") is not None  # the worker is alive: the counter moved on
    assert not b.reset("s", seen.counter, "TRIM_HORIZON")
    assert b.get("s").checkpoint.endswith("9") and b.get("s").owner == "w1"
    assert b.reset("s", seen.counter + 1, "49000000000000000000000000000000000000000000000000000004", -1)
    lease = a.get("s")
    assert lease.owner is None and lease.counter == seen.counter + 2 and lease.owner_switches_since_checkpoint == 0
    assert (lease.checkpoint, lease.checkpoint_sub_sequence_number) == (
        "49000000000000000000000000000000000000000000000000000004",
        -1,
    )
    assert not a.checkpoint("s", "w1", "49000000000000000000000000000000000000000000000000000010")  # w1 lost it
    assert a.take("s", lease.counter, "w2").owner == "w2"


def test_groups_in_one_file_are_separate(tmp_path):
    one, two = SQLiteLeaseStore(tmp_path / "l.db", "billing"), SQLiteLeaseStore(tmp_path / "l.db", "audit")
    one.create_if_absent(Lease("s", checkpoint="LATEST"))
    assert two.get("s") is None
    two.create_if_absent(Lease("s"))
    assert one.get("s").checkpoint == "LATEST" and two.get("s").checkpoint == "TRIM_HORIZON"
    groups = SQLiteLeaseStore.groups(tmp_path / "l.db")
    assert sorted(groups) == ["audit", "billing"] and groups["billing"][0].checkpoint == "LATEST"
    assert SQLiteLeaseStore.groups(tmp_path / "none.db") == {}
