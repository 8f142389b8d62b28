"""Encryption at rest: what a durable stream writes while it encrypts never reaches its data directory in
plaintext (every file is searched), reads and replays open it, damage and swaps are caught by the GCM tag,
and a key that is missing, disabled or wrong gives Kinesis's KMS errors.  Real files, real processes."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_process import ServeProcess

from shardstream import Engine
from shardstream.errors import (
    KMSAccessDeniedException,
    KMSDisabledException,
    KMSInvalidStateException,
    KMSNotFoundException,
    StorageError,
)
from shardstream.history import replay
from shardstream.keys import KeyStore, new_key
from shardstream.replay_cli import replay as replay_command
from shardstream.storage.crypto import BatchCipher
from shardstream.storage.format import CRC_METADATA_KEY, STORED_SCHEMA, CorruptSegmentError, batch_crc32
from shardstream.storage.log import SegmentLog

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:000000000000:key/{KEY_ID}"


def key_doc(**more) -> dict:
    return {KEY_ID: {"key": new_key(), "aliases": ["alias/orders"]}, **more}


def files_holding(data_dir: Path, needle: bytes) -> list[str]:
    """Every file under ``data_dir`` whose bytes contain ``needle`` (relative paths)."""
    found = []
    for path in sorted(Path(data_dir).rglob("*")):
        if path.is_file() and needle in path.read_bytes():
            found.append(str(path.relative_to(data_dir)))
    return found


def segment_files(data_dir: Path) -> list[Path]:
    return sorted(Path(data_dir).rglob("*.arrows"))


def read_all(stream) -> list[tuple[str, bytes]]:
    """Every record of every shard, as (partition key, data), in shard then sequence order."""
    out = []
    for shard in stream.list_shards():
        iterator = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        while True:
            page = stream.get_records(iterator, limit=10_000)
            out.extend((r["PartitionKey"], r["Data"]) for r in page["Records"])
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
    return out


# -- the guarantee: no plaintext anywhere under the data directory ---------------------------------------


def test_records_put_while_encrypting_are_nowhere_in_plaintext(tmp_path):
    keys = key_doc()
    marker = uuid.uuid4().hex.encode()  # unique bytes: a hit can only be a record's
    with Engine(data_dir=tmp_path, keys=keys) as engine:
        stream = engine.create_stream("orders", stream_mode="ON_DEMAND")
        stream.put_record(b"plain-" + marker, partition_key="pk-plain-" + marker.decode())
        stream.start_stream_encryption("KMS", "alias/orders")
        stream.put_record(b"secret-one-" + marker, partition_key="pk-secret-" + marker.decode())
        stream.put_records([{"Data": b"secret-many-" + marker, "PartitionKey": f"k{i}"} for i in range(50)])
        stream.put_batch([f"b{i}" for i in range(500)], [b"secret-batch-" + marker] * 500)
        # a queue on the stream: its snapshot and journal must hold no payloads either
        queue = engine.create_queue("q", [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}])
        arn = queue["QueueDescription"]["QueueARN"]
        got = engine.receive_queue_records(arn, limit=10, wait_time_seconds=1)["QueueRecords"]
        assert got
        engine.acknowledge_queue_records(arn, [{"ReceiptHandle": r["ReceiptHandle"]} for r in got])
    # the test can fail: the record put before StartStreamEncryption is there in plaintext
    assert files_holding(tmp_path, b"plain-" + marker)
    assert files_holding(tmp_path, b"pk-plain-" + marker)
    for secret in (b"secret-one-", b"pk-secret-", b"secret-many-", b"secret-batch-"):
        assert files_holding(tmp_path, secret + marker) == []
    assert files_holding(tmp_path, marker) == files_holding(tmp_path, b"plain-" + marker)

    # reopened (a restart): everything reads back in plaintext, and new writes stay encrypted
    with Engine(data_dir=tmp_path, keys=keys) as engine:
        stream = engine.stream("orders")
        records = read_all(stream)
        assert sorted(d for _, d in records) == sorted(
            [b"plain-" + marker, b"secret-one-" + marker]
            + [b"secret-many-" + marker] * 50
            + [b"secret-batch-" + marker] * 500
        )
        assert ("pk-secret-" + marker.decode(), b"secret-one-" + marker) in records
        assert stream.describe_summary()["StreamDescriptionSummary"]["KeyId"] == "alias/orders"
        stream.put_record(b"secret-after-restart-" + marker, partition_key="k")
    assert files_holding(tmp_path, b"secret-after-restart-" + marker) == []
    assert files_holding(tmp_path, marker) == files_holding(tmp_path, b"plain-" + marker)


def test_stop_encryption_affects_new_records_only(tmp_path):
    keys = key_doc()
    with Engine(data_dir=tmp_path, keys=keys, durability="none") as engine:
        stream = engine.create_stream("s", shard_count=1)
        stream.start_stream_encryption("KMS", KEY_ARN)
        # unflushed (durability none): stopping must write these encrypted before it switches
        stream.put_records([{"Data": b"hidden-%d" % i, "PartitionKey": "p"} for i in range(20)])
        stream.stop_stream_encryption("KMS", KEY_ARN)
        stream.put_record(b"open-after-stop", partition_key="p")
    assert files_holding(tmp_path, b"hidden-") == []
    assert files_holding(tmp_path, b"open-after-stop")
    with Engine(data_dir=tmp_path, keys=keys) as engine:
        data = [d for _, d in read_all(engine.stream("s"))]
    assert data == [b"hidden-%d" % i for i in range(20)] + [b"open-after-stop"]


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from shardstream import Engine
    data_dir, keys = sys.argv[1], sys.argv[2]
    engine = Engine(data_dir=data_dir, keys=keys)
    stream = engine.create_stream("crashy", shard_count=2)
    stream.start_stream_encryption("KMS", "alias/orders")
    for i in range(300):
        stream.put_record(b"crash-secret-%d" % i, partition_key="p%d" % i)  # sync: on disk when it returns
    print("acked", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_sigkilled_writer_recovers_and_reads_encrypted_records(tmp_path):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(key_doc()))
    data_dir = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHER, str(data_dir), str(key_file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL and "acked" in proc.stdout, proc.stderr
    assert files_holding(data_dir, b"crash-secret-") == []
    with Engine(data_dir=data_dir, keys=str(key_file)) as engine:  # an unclean open: recovery runs
        stream = engine.stream("crashy")
        assert sorted(d for _, d in read_all(stream)) == sorted(b"crash-secret-%d" % i for i in range(300))
        stream.put_record(b"crash-secret-later", partition_key="p")
    assert files_holding(tmp_path, b"crash-secret-") == []
    # a key store from a command that prints it
    command = [sys.executable, "-c", f"print(open({str(key_file)!r}).read())"]
    with Engine(data_dir=data_dir, keys=command) as engine:
        assert len(read_all(engine.stream("crashy"))) == 301


def test_server_with_kms_keys_stores_encrypted_and_reads_back(tmp_path):
    from botocore.exceptions import ClientError

    from shardstream.testing import boto3_client

    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(key_doc()))
    data_dir = tmp_path / "data"
    with ServeProcess("--data-dir", str(data_dir), "--kms-keys", str(key_file)) as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="wire", ShardCount=2)
        kinesis.put_record(StreamName="wire", Data=b"wire-plain", PartitionKey="p")
        with pytest.raises(ClientError) as err:
            kinesis.start_stream_encryption(StreamName="wire", EncryptionType="KMS", KeyId="alias/nope")
        assert err.value.response["Error"]["Code"] == "KMSNotFoundException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        kinesis.start_stream_encryption(StreamName="wire", EncryptionType="KMS", KeyId="alias/orders")
        answer = kinesis.put_records(
            StreamName="wire", Records=[{"Data": b"wire-secret-%d" % i, "PartitionKey": f"k{i}"} for i in range(100)]
        )
        assert answer["FailedRecordCount"] == 0 and answer["EncryptionType"] == "KMS"
        server.interrupt()
    assert files_holding(data_dir, b"wire-plain")
    assert files_holding(data_dir, b"wire-secret") == []
    with ServeProcess("--data-dir", str(data_dir), "--kms-keys", str(key_file)) as server:
        kinesis = boto3_client(server.url())
        data = []
        for shard in kinesis.list_shards(StreamName="wire")["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="wire", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            data += [r["Data"] for r in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]]
        assert sorted(data) == sorted([b"wire-plain"] + [b"wire-secret-%d" % i for i in range(100)])
        server.interrupt()
    # without the keys, the server answers reads of encrypted records with the KMS error
    with ServeProcess("--data-dir", str(data_dir)) as server:
        kinesis = boto3_client(server.url())
        codes = set()
        for shard in kinesis.list_shards(StreamName="wire")["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="wire", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            try:
                kinesis.get_records(ShardIterator=iterator, Limit=1000)
            except ClientError as exc:
                codes.add(exc.response["Error"]["Code"])
        assert codes == {"KMSNotFoundException"}
        server.interrupt()


# -- replay ------------------------------------------------------------------------------------------------


def test_replay_decrypts_with_the_key_store(tmp_path):
    keys = key_doc()
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(keys))
    data_dir = tmp_path / "data"
    with Engine(data_dir=data_dir, keys=keys) as engine:
        stream = engine.create_stream("r", shard_count=1)
        stream.start_stream_encryption("KMS", KEY_ID)
        stream.put_batch(["a", "b", "c"], [b"r-one", b"r-two", b"r-three"])
    table = replay(data_dir, "r", keys=keys).read_all()
    assert table.column("data").to_pylist() == [b"r-one", b"r-two", b"r-three"]
    assert table.column("partition_key").to_pylist() == ["a", "b", "c"]
    with pytest.raises(KMSNotFoundException):
        replay(data_dir, "r").read_all()
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        replay_command, [str(data_dir), "r", "-o", str(out), "--kms-keys", str(key_file), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert base64.b64encode(b"r-three").decode() in out.read_text()


# -- damage and swaps -----------------------------------------------------------------------------------


def _rewrite_segment(path: Path, change) -> None:
    """Rewrite a segment with ``change(i, batch) -> batch`` applied and every CRC-32 made right again
    (what a deliberate tamper would do): only the GCM tag can then tell."""
    with pa.memory_map(str(path)) as mm:
        reader = pa.ipc.open_stream(mm)
        schema, items = reader.schema, []
        while True:
            try:
                batch, metadata = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            items.append((batch, {k.decode(): v.decode() for k, v in metadata.items()}))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for i, (batch, metadata) in enumerate(items):
            batch = change(i, batch)
            metadata[CRC_METADATA_KEY] = str(batch_crc32(batch))
            writer.write_batch(batch, custom_metadata=metadata)
    path.write_bytes(sink.getvalue().to_pybytes())


def _flip_data_byte(batch: pa.RecordBatch) -> pa.RecordBatch:
    i = batch.schema.get_field_index("data")
    column = batch.column(i)
    buffers = column.buffers()
    raw = bytearray(buffers[2].to_pybytes())
    raw[0] ^= 0x01
    changed = pa.Array.from_buffers(column.type, len(column), [None, buffers[1], pa.py_buffer(bytes(raw))])
    columns = list(batch.columns)
    columns[i] = changed
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _encrypted_stream(data_dir: Path, keys: dict, batches: int = 2) -> None:
    """A stream whose every batch of 10 records is sealed, each batch in a segment of its own."""
    with Engine(data_dir=data_dir, keys=keys, max_segment_bytes=1) as engine:
        stream = engine.create_stream("c", shard_count=1)
        stream.start_stream_encryption("KMS", KEY_ID)
        for b in range(batches):
            stream.put_batch([f"k{i}" for i in range(10)], [b"c-%d-%d" % (b, i) for i in range(10)])


def test_a_flipped_byte_fails_the_crc_of_an_encrypted_batch(tmp_path):
    keys = key_doc()
    _encrypted_stream(tmp_path, keys)
    segment = segment_files(tmp_path)[0]  # sealed, not the newest: checked when first read
    raw = bytearray(segment.read_bytes())
    whole = pa.py_buffer(bytes(raw))
    reader = pa.ipc.open_stream(whole)
    data = reader.read_next_batch().column("data").buffers()[2]  # the batch's ciphertext, zero-copy
    raw[data.address - whole.address] ^= 0xFF
    segment.write_bytes(bytes(raw))
    with Engine(data_dir=tmp_path, keys=keys) as engine, pytest.raises(CorruptSegmentError, match="CRC-32"):
        read_all(engine.stream("c"))


def test_tampered_ciphertext_with_a_fixed_crc_fails_the_gcm_tag(tmp_path):
    keys = key_doc()
    _encrypted_stream(tmp_path, keys)
    older, newest = segment_files(tmp_path)
    _rewrite_segment(older, lambda i, batch: _flip_data_byte(batch))
    # the older segment is checked when first read: the read fails, nothing tampered is returned
    with Engine(data_dir=tmp_path, keys=keys) as engine, pytest.raises(CorruptSegmentError) as err:
        read_all(engine.stream("c"))
    assert "AES-GCM tag mismatch" in str(err.value) and err.value.path == str(older)
    # recovery checks tags where it checks CRC-32s: a damaged sealed segment refuses to open
    with pytest.raises(CorruptSegmentError, match="AES-GCM tag mismatch"):
        SegmentLog(older.parent, keys=KeyStore(keys), verify_sealed=True)
    _rewrite_segment(newest, lambda i, batch: _flip_data_byte(batch))
    with pytest.raises(CorruptSegmentError, match="AES-GCM tag mismatch"):
        Engine(data_dir=tmp_path, keys=keys)  # a clean close: the newest segment must be intact


def test_a_tampered_tail_batch_is_cut_as_a_torn_tail(tmp_path):
    keys = key_doc()
    store = KeyStore(keys)
    log = SegmentLog(tmp_path / "s.0" / "shards" / "shardId-000000000000", keys=store)
    for b in range(3):
        log.append(_record_batch([f"k{i}" for i in range(5)], [b"t-%d" % b] * 5, first=1 + 5 * b), key_id=KEY_ID)
    log.sync()
    log.abandon()  # a crash: the segment stays unsealed
    (segment,) = segment_files(tmp_path)
    _rewrite_segment(segment, lambda i, batch: _flip_data_byte(batch) if i == 2 else batch)
    raw = segment.read_bytes()
    segment.write_bytes(raw[:-8])  # no end-of-stream marker: a torn tail, as after a crash
    log = SegmentLog(segment.parent, keys=store)
    assert log.recovery.reason and "AES-GCM tag mismatch" in log.recovery.reason
    assert log.last_counter() == 10
    assert [b for batch in log.read(1) for b in batch.column("data").to_pylist()] == [b"t-0"] * 5 + [b"t-1"] * 5
    log.close()


def _record_batch(keys: list[str], data: list[bytes], first: int) -> pa.RecordBatch:
    n = len(keys)
    return pa.RecordBatch.from_arrays(
        [
            pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["shardId-000000000000"])),
            pa.array([str(10**20 + first + i) for i in range(n)]),
            pa.array(keys, pa.string()),
            pa.array(data, pa.binary()),
            pa.array(np.full(n, 1_700_000_000_000, dtype="datetime64[ms]"), pa.timestamp("ms", tz="UTC")),
            pa.array(np.arange(first, first + n, dtype=np.uint64)),
        ],
        schema=STORED_SCHEMA,
    )


def test_a_batch_moved_to_another_shard_fails_its_tag():
    store = KeyStore(key_doc())
    batch = _record_batch(["a", "b"], [b"x", b"y"], first=7)
    sealed, header = BatchCipher(store, "s.1/shardId-000000000000").seal(batch, KEY_ID)
    metadata = {k.encode(): v.encode() for k, v in header.items()}
    opened = BatchCipher(store, "s.1/shardId-000000000000").open(sealed, metadata, "f", 0)
    assert opened.column("data").to_pylist() == [b"x", b"y"]
    with pytest.raises(CorruptSegmentError, match="tag mismatch"):
        BatchCipher(store, "s.1/shardId-000000000001").open(sealed, metadata, "f", 0)
    moved = _record_batch(["a", "b"], [b"x", b"y"], first=9)  # same bytes, another position
    moved = pa.RecordBatch.from_arrays([*sealed.columns[:-1], moved.column(5)], schema=sealed.schema)
    with pytest.raises(CorruptSegmentError, match="tag mismatch"):
        BatchCipher(store, "s.1/shardId-000000000000").open(moved, metadata, "f", 0)


# -- keys: missing, disabled, wrong ----------------------------------------------------------------------


def test_start_encryption_checks_the_key(tmp_path):
    store = KeyStore(key_doc(**{"alias/off": {"key": new_key(), "state": "Disabled"}}))
    store_doomed = {"alias/doomed": {"key": new_key(), "state": "PendingDeletion"}}
    with Engine(data_dir=tmp_path / "a", keys=store) as engine:
        stream = engine.create_stream("k", shard_count=1)
        with pytest.raises(KMSNotFoundException, match="alias/unknown"):
            stream.start_stream_encryption("KMS", "alias/unknown")
        with pytest.raises(KMSDisabledException):
            stream.start_stream_encryption("KMS", "alias/off")
        assert stream.describe_summary()["StreamDescriptionSummary"]["EncryptionType"] == "NONE"
        stream.start_stream_encryption("KMS", "arn:aws:kms:us-east-1:000000000000:alias/orders")
    with Engine(data_dir=tmp_path / "b", keys=store_doomed) as engine:
        with pytest.raises(KMSInvalidStateException):
            engine.create_stream("k", shard_count=1).start_stream_encryption("KMS", "alias/doomed")
    # a durable engine with no key store refuses: it could not keep the promise
    with Engine(data_dir=tmp_path / "c") as engine:
        stream = engine.create_stream("k", shard_count=1)
        with pytest.raises(KMSNotFoundException, match="no key store"):
            stream.start_stream_encryption("KMS", "alias/orders")
        assert stream.describe_summary()["StreamDescriptionSummary"]["EncryptionType"] == "NONE"
    # in memory nothing reaches a disk: without a key store the setting is kept, as before
    memory = Engine().create_stream("m", shard_count=1)
    memory.start_stream_encryption("KMS", "alias/anything")
    assert memory.describe_summary()["StreamDescriptionSummary"]["EncryptionType"] == "KMS"
    with pytest.raises(KMSNotFoundException):
        Engine(keys=store).create_stream("m", shard_count=1).start_stream_encryption("KMS", "alias/nope")


def test_reading_with_the_key_gone_disabled_or_different(tmp_path):
    keys = key_doc()
    _encrypted_stream(tmp_path, keys, batches=1)
    with Engine(data_dir=tmp_path, keys={"alias/other": new_key()}) as engine:
        with pytest.raises(KMSNotFoundException):
            read_all(engine.stream("c"))
    with Engine(data_dir=tmp_path) as engine:
        with pytest.raises(KMSNotFoundException, match="no key store"):
            read_all(engine.stream("c"))
    wrong = {KEY_ID: {"key": new_key(), "aliases": ["alias/orders"]}}  # same name, other material
    with Engine(data_dir=tmp_path, keys=wrong) as engine:
        with pytest.raises(KMSAccessDeniedException):
            read_all(engine.stream("c"))
    store = KeyStore(keys)
    store.disable("alias/orders")
    with Engine(data_dir=tmp_path, keys=store) as engine:
        with pytest.raises(KMSDisabledException):
            read_all(engine.stream("c"))
        store.enable(KEY_ARN)
        assert len(read_all(engine.stream("c"))) == 10


def test_writes_fail_rather_than_store_plaintext_when_the_key_is_disabled(tmp_path):
    store = KeyStore(key_doc())
    with Engine(data_dir=tmp_path, keys=store) as engine:
        stream = engine.create_stream("w", shard_count=1)
        stream.start_stream_encryption("KMS", "alias/orders")
        stream.put_record(b"wkey-ok", partition_key="p")
        store.disable(KEY_ID)
        with pytest.raises(StorageError, match="KMSDisabledException"):
            stream.put_record(b"wkey-refused", partition_key="p")
        store.enable(KEY_ID)
        stream.put_record(b"wkey-again", partition_key="p")
        assert [d for _, d in read_all(stream)] == [b"wkey-ok", b"wkey-again"]
    assert files_holding(tmp_path, b"wkey-") == []


def test_key_store_sources_and_names(tmp_path):
    doc = key_doc(**{"alias/hex": "ab" * 32})
    path = tmp_path / "k.json"
    path.write_text(json.dumps(doc))
    for source in (doc, str(path), path, [sys.executable, "-c", f"print(open({str(path)!r}).read())"]):
        store = KeyStore.load(source)
        assert store.resolve(KEY_ARN) == KEY_ID == store.resolve("alias/orders")
        assert store.resolve("arn:aws:kms:eu-west-1:111122223333:alias/orders") == KEY_ID
        assert store.material("alias/hex") == bytes.fromhex("ab" * 32)
    with pytest.raises(ValueError, match="32"):
        KeyStore({"alias/short": base64.b64encode(b"x" * 16).decode()})
    with pytest.raises(ValueError, match="twice"):
        KeyStore({"a": new_key(), "b": {"key": new_key(), "aliases": ["a"]}})


# -- property: any batch survives a seal, a file and an open ---------------------------------------------

records = st.lists(
    st.tuples(st.text(min_size=1, max_size=20), st.binary(min_size=0, max_size=200)), min_size=1, max_size=40
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(records, min_size=1, max_size=4), encrypt=st.lists(st.booleans(), min_size=4, max_size=4))
def test_round_trip_of_arbitrary_batches(batches, encrypt):
    store = KeyStore(key_doc())
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d) / "p.0" / "shards" / "shardId-000000000000"
        first, expected = 1, []
        with SegmentLog(directory, keys=store) as log:
            for rows, sealed in zip(batches, encrypt):
                keys_, data = [k for k, _ in rows], [v for _, v in rows]
                log.append(_record_batch(keys_, data, first), key_id=KEY_ID if sealed else None)
                first += len(rows)
                expected += rows
        reopened = SegmentLog(directory, keys=store, expect_sealed=True)
        got = [
            (k, v)
            for batch in reopened.read(1)
            for k, v in zip(batch.column("partition_key").to_pylist(), batch.column("data").to_pylist())
        ]
        paged = reopened.read_range(1, 10_000)
        reopened.close()
        assert got == expected
        assert [v for b in paged for v in b.column("data").to_pylist()] == [v for _, v in expected]
        if any(encrypt[: len(batches)]):
            assert os.path.getsize(next(directory.iterdir())) > 0


def test_without_cryptography_the_error_says_which_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers", None)  # as if not installed
    with Engine(data_dir=tmp_path, keys=key_doc()) as engine:
        stream = engine.create_stream("x", shard_count=1)
        with pytest.raises(ImportError, match=r"shardstream\[encryption\]"):
            stream.start_stream_encryption("KMS", "alias/orders")
        assert stream.describe_summary()["StreamDescriptionSummary"]["EncryptionType"] == "NONE"
        stream.put_record(b"no-crypto-plain", partition_key="p")
    assert files_holding(tmp_path, b"no-crypto-plain")
