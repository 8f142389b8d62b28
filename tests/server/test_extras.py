"""Every extra installs what its code imports: checked on the source, and by running the server
with nothing importable but the core and the ``server`` extra."""

from __future__ import annotations

import ast
import http.client
import json
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from distributions import canonical, closure
from serve_process import ServeProcess

from shardstream.server import model

from .model_samples import sample

SRC = Path(__file__).resolve().parents[2] / "src" / "shardstream"


def _declared_extras() -> set[str]:
    return set(metadata.metadata("shardstream").get_all("Provides-Extra") or ())


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"shardstream", "__future__"}


def _providers(module: str) -> set[str]:
    return {canonical(d) for d in metadata.packages_distributions().get(module, ())}


#: Modules only ever imported by a program that is itself the import (path -> those modules): the pytest
#: plugin is loaded by pytest through its ``pytest11`` entry point, so pytest is there whenever it is.
LOADED_BY_HOST = {"pytest_plugin.py": {"pytest"}}


def test_every_third_party_import_is_declared():
    # test, dev and bench install what tests/ and benchmarks/ import (bench's redis client is not in a test venv)
    allowed = {e: closure({e}) for e in _declared_extras() - {"test", "dev", "bench"}}
    core = closure(set())
    undeclared = {}
    for path in SRC.rglob("*.py"):
        for module in _top_level_imports(path) - LOADED_BY_HOST.get(path.relative_to(SRC).as_posix(), set()):
            providers = _providers(module)
            if not providers & (core | set().union(*allowed.values())):
                undeclared.setdefault(module, []).append(str(path.relative_to(SRC)))
    assert not undeclared, f"imported but in no extra: {undeclared}"


def test_the_server_package_needs_only_the_server_extra():
    allowed = closure({"server"})
    for path in (SRC / "server").rglob("*.py"):
        for module in _top_level_imports(path):
            assert _providers(module) & allowed, f"{path.name} imports {module}, which [server] does not install"


# A child process in which only the core's and the [server] extra's distributions can be imported.
_BLOCKER = textwrap.dedent(
    """
    import importlib.util, json, sys
    BLOCKED = set(json.loads({blocked!r}))
    class Block:
        # a blocked module is found (importlib.util.find_spec probes, as yarl's for pydantic_core, see
        # something) but importing it fails as a missing module does
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                return importlib.util.spec_from_loader(name, self)
        def create_module(self, spec):
            raise ModuleNotFoundError("not installed by shardstream[server]: " + spec.name, name=spec.name)
        def exec_module(self, module):
            pass
    sys.meta_path.insert(0, Block())
    from shardstream.cli import main
    sys.argv[0] = "shardstream"
    main()
    """
)


@pytest.fixture(scope="module")
def server_extra_only():
    allowed = closure({"server"}) | {"shardstream"}
    installed = metadata.packages_distributions()
    blocked = sorted(m for m, dists in installed.items() if not {canonical(d) for d in dists} & allowed)
    assert "botocore" in blocked and "boto3" in blocked and "aiohttp" not in blocked
    prelude = _BLOCKER.format(blocked=json.dumps(blocked))
    with ServeProcess(python_args=("-c", prelude), timeout=20.0) as proc:
        yield proc


# well formed, as the server's default ("presence") authentication wants; not verified
_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)


def _post(port: int, operation: str, body: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"Kinesis_20131202.{operation}",
            "X-Amz-Date": "20260101T000000Z",
            "Authorization": _AUTHORIZATION,
        }
        conn.request("POST", "/", body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_server_extra_alone_answers_every_operation_without_5xx(server_extra_only):
    port = server_extra_only.port
    created = _post(port, "CreateStream", {"StreamName": "a", "ShardCount": 1})
    assert created[0] == 200, created
    put = _post(port, "PutRecord", {"StreamName": "a", "PartitionKey": "k", "Data": "AAAA"})
    assert put[0] == 200, put  # requests reach the engine, not only validation
    answers = {}
    for operation in sorted(model.operations()):
        shape = model.load()["operations"][operation]["input"]["shape"]
        for full in (False, True):
            status, body = _post(port, operation, sample(shape, full))
            answers[operation, full] = status
            assert status < 500, f"{operation} (full={full}): {status} {body[:300]!r}"
    assert len(answers) == 2 * len(model.operations())
