"""The vendored Kinesis service model and the tool that refreshes it."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from shardstream.server import actions, model, shapes

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "update_kinesis_model.py"
DATA = Path(model.__file__).parent / "data"


def test_vendored_model_matches_its_recorded_source():
    raw = gzip.decompress((DATA / model.MODEL_FILE).read_bytes())
    info = model.source()
    assert hashlib.sha256(raw).hexdigest() == info["sha256"]
    assert info["operations"] == len(model.load()["operations"])
    assert model.version() == info["botocore"] and model.version().count(".") == 2
    assert model.load()["metadata"]["apiVersion"] == "2013-12-02"


def test_server_operations_and_validation_come_from_the_vendored_model():
    assert actions.OPERATIONS == model.operations() == frozenset(shapes.operations())
    assert {"UpdateStreamRecordDistributionStrategy", "CreateQueue", "CreateChannel"} <= actions.OPERATIONS
    assert "DryRun" in {m for m, _ in shapes._compiled()["PutRecord"].members}


def test_the_server_never_imports_botocore():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('botocore', 'boto3'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from shardstream.server import app, shapes\n"
        "shapes.validate('PutRecord', {'StreamName': 's', 'PartitionKey': 'k', 'Data': ''})\n"
        "print(len(shapes.operations()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(len(model.operations()))


def _run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def _write_model(path: Path, doc: dict) -> Path:
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    return path


def test_tool_reports_changes_and_writes_model_with_its_version(tmp_path):
    new = copy.deepcopy(model.load())
    del new["operations"]["CreateQueue"]
    new["operations"]["FrobnicateStream"] = {"name": "FrobnicateStream", "input": {"shape": "PutRecordInput"}}
    put = new["shapes"]["PutRecordInput"]
    put["members"]["Colour"] = {"shape": "StreamName"}
    put["required"] = [*put.get("required", []), "PartitionKey"]
    new["shapes"]["StreamName"]["max"] = 64
    new["shapes"]["HashKey"]["documentation"] = "only documentation changed"
    source = _write_model(tmp_path / "service-2.json.gz", new)

    check = _run_tool("--check", "--from", str(source), "--version", "9.9.9")
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert "operation FrobnicateStream added" in lines
    assert "operation CreateQueue removed" in lines
    assert "  shape PutRecordInput: member Colour added" in lines
    assert "  shape PutRecordInput: PartitionKey now required" in lines
    assert "  shape StreamName: max 128 -> 64" in lines
    assert not any("HashKey" in line for line in lines)  # documentation is not a change
    assert not (tmp_path / "out").exists()

    written = _run_tool("--from", str(source), "--version", "9.9.9", "--into", str(tmp_path / "out"))
    assert written.returncode == 0, written.stderr
    assert json.loads(gzip.decompress((tmp_path / "out" / model.MODEL_FILE).read_bytes())) == new
    info = json.loads((tmp_path / "out" / model.SOURCE_FILE).read_text())
    assert info["botocore"] == "9.9.9" and info["operations"] == len(new["operations"])


def test_tool_check_is_quiet_about_an_identical_model(tmp_path):
    source = _write_model(tmp_path / "service-2.json.gz", model.load())
    check = _run_tool("--check", "--from", str(source), "--version", model.version())
    assert check.returncode == 0, check.stdout
    assert "no changes to operations or shapes" in check.stdout


def test_written_model_is_byte_identical_for_identical_input(tmp_path):
    raw = json.dumps(model.load()).encode()
    model.write(raw, "1.0.0", tmp_path / "a")
    model.write(raw, "1.0.0", tmp_path / "b")
    assert (tmp_path / "a" / model.MODEL_FILE).read_bytes() == (tmp_path / "b" / model.MODEL_FILE).read_bytes()
