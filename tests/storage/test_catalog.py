"""Atomic JSON documents and the per-stream catalog."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardstream.storage import Catalog, read_json, write_json_atomic
from shardstream.storage import catalog as catalog_module

json_docs = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_docs)
def test_write_read_round_trip(tmp_path, doc):
    path = tmp_path / "doc.json"
    write_json_atomic(path, doc)
    assert read_json(path) == doc


def test_overwrite_leaves_no_temp_files(tmp_path):
    path = tmp_path / "doc.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    assert read_json(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["doc.json"]


def test_missing_document_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "nope.json")


def test_crash_before_rename_keeps_old_document(tmp_path, monkeypatch):
    path = tmp_path / "doc.json"
    write_json_atomic(path, {"v": "old"})

    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(catalog_module.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        write_json_atomic(path, {"v": "new"})
    monkeypatch.undo()
    assert read_json(path) == {"v": "old"}
    assert os.listdir(tmp_path) == ["doc.json"]  # the failed write cleaned up after itself


def test_stray_temp_file_is_ignored_and_cleaned(tmp_path):
    # A real crash (no cleanup) between write and rename leaves a partial temp file.
    cat = Catalog(tmp_path)
    cat.put("orders", {"shards": 2})
    stray = tmp_path / ".orders.json.12345.deadbeef.tmp"
    stray.write_bytes(b'{"shards": 4, "trunc')
    assert read_json(tmp_path / "orders.json") == {"shards": 2}
    assert cat.get("orders") == {"shards": 2}
    assert cat.names() == ["orders"]
    Catalog(tmp_path)  # reopening removes the leftover
    assert not stray.exists()


def test_catalog_put_get_delete_names(tmp_path):
    cat = Catalog(tmp_path / "catalog")
    assert cat.names() == []
    assert cat.get("a") is None
    assert cat.get("a", {}) == {}
    cat.put("b-stream", {"shard_count": 1})
    cat.put("a.stream_1", {"shard_count": 3, "tags": {"k": "v"}})
    cat.put("b-stream", {"shard_count": 2})
    assert cat.names() == ["a.stream_1", "b-stream"]
    assert cat.get("b-stream") == {"shard_count": 2}
    assert "b-stream" in cat
    assert json.loads((tmp_path / "catalog" / "b-stream.json").read_text()) == {"shard_count": 2}
    assert cat.delete("b-stream") is True
    assert cat.delete("b-stream") is False
    assert cat.names() == ["a.stream_1"]
    assert Catalog(tmp_path / "catalog").get("a.stream_1") == {"shard_count": 3, "tags": {"k": "v"}}


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../x", "x" * 129, "sp ace", 3])
def test_catalog_rejects_unsafe_names(tmp_path, name):
    cat = Catalog(tmp_path)
    with pytest.raises(ValueError):
        cat.put(name, {})
