"""Atomic JSON documents: crash-safe replacement and clean-up of uncommitted writes."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardstream.storage import jsonfile as jsonfile_module
from shardstream.storage import read_json, write_json_atomic
from shardstream.storage.jsonfile import remove_stale_temp_files

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

    monkeypatch.setattr(jsonfile_module.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        write_json_atomic(path, {"v": "new"})
    monkeypatch.undo()
    assert read_json(path) == {"v": "old"}
    assert os.listdir(tmp_path) == ["doc.json"]  # the failed write cleaned up after itself


def test_stray_temp_file_is_ignored_and_cleaned(tmp_path):
    # A real crash (no cleanup) between write and rename leaves a partial temp file.
    write_json_atomic(tmp_path / "orders.json", {"shards": 2})
    stray = tmp_path / ".orders.json.12345.deadbeef.tmp"
    stray.write_bytes(b'{"shards": 4, "trunc')
    assert read_json(tmp_path / "orders.json") == {"shards": 2}
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stray.exists()
    assert sorted(os.listdir(tmp_path)) == ["orders.json"]
