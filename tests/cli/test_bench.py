"""``shardstream bench``: the command against the embedded engine and a real server, its output and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from shardstream.cli import main

SMALL = ["--records", "3000", "--record-size", "64", "--shards", "2", "--batch", "250", "--latency-samples", "60"]


def bench(*args: str):
    result = CliRunner().invoke(main, ["bench", *args], catch_exceptions=False)
    return result


def check_result(result: dict, records: int, samples: int, kind: str) -> None:
    assert result["target"]["kind"] == kind
    put, get = result["throughput"]["put"], result["throughput"]["get"]
    assert put["records"] == get["records"] == records
    assert put["bytes"] == get["bytes"] == records * result["workload"]["record_size"]
    assert put["records_per_s"] > 0 and get["mb_per_s"] > 0 and put["calls"] == -(-records // 250)
    assert 0 < put["call_ms_p50"] <= put["call_ms_p99"]
    timeline = result["throughput"]["timeline"]
    assert timeline[0] == [0.0, 0, 0] and timeline[-1][1:] == [records, records]
    assert all(a[0] <= b[0] and a[1] <= b[1] and a[2] <= b[2] for a, b in zip(timeline, timeline[1:]))
    lat = result["latency"]
    assert lat["samples"] == samples and lat["put_rate_per_s"] > 0 and lat["poll"]["getrecords_per_s"] > 0
    assert lat["interval_ms"] == {"embedded": 1.0, "server": 5.0}[kind] and isinstance(lat["saturated"], bool)
    assert lat["put_rate_per_s"] <= 1e3 / lat["interval_ms"] * 1.05  # paced, not flat out
    assert lat["readers"] == {"embedded": "in-process", "server": "child process"}[kind]
    for path in ("poll", "subscribe"):
        stats = lat[path]
        assert stats["samples"] == samples and stats["lost"] == 0, (path, stats)
        assert 0 < stats["p50_us"] <= stats["p99_us"] <= stats["p999_us"] <= stats["max_us"], (path, stats)
        sent = stats.get("from_request_sent")
        if kind == "embedded":
            assert sent is None  # no request: nothing before the send to take off
        else:  # timed from botocore's send: the same samples, each shorter by the client's work before it
            assert sent["samples"] == samples and 0 < sent["p50_us"] < stats["p50_us"], (path, sent)
    if kind == "embedded":  # subscribers on the putter's own event loop
        on_loop = lat["subscribe-asyncio"]
        assert on_loop["samples"] == samples and on_loop["lost"] == 0 and 0 < on_loop["p50_us"] <= on_loop["p99_us"]
    else:
        assert "subscribe-asyncio" not in lat
    floor = lat["floor"]  # the bare hand-over, timed at the same pace in the same run
    assert floor["what"] == {"embedded": "thread wake-up", "server": "HTTP round trip"}[kind]
    assert floor["samples"] == samples and floor["lost"] == 0 and 0 < floor["p50_us"] <= floor["p99_us"]


def test_embedded_json():
    out = bench(*SMALL, "--json", "--no-progress")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    check_result(result, 3000, 60, "embedded")
    assert result["target"]["url"] == "memory://"
    assert result["workload"]["shards"] == 2 and result["workload"]["batch"] == 250


def test_tables_and_progress_bars():
    out = bench(*SMALL)
    assert out.exit_code == 0, out.output
    for text in ("throughput: memory:// (embedded)", "put -> get latency", "GetRecords loop", "SubscribeToShard"):
        assert text in out.stdout, out.stdout
    assert "latency: poll" in out.stderr and "latency: subscribe" in out.stderr  # the progress bars


def test_against_a_serve_child_json_and_plot(tmp_path):
    png = tmp_path / "bench.png"
    args = [*SMALL, "--url", "serve", "--json", "--plot", str(png), "--producers", "2", "--consumers", "2"]
    out = bench(*args)
    assert out.exit_code == 0, out.output
    check_result(json.loads(out.stdout), 3000, 60, "server")
    assert "latency: subscribe" in out.stderr  # progress bars on stderr, JSON alone on stdout
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    import matplotlib.image

    image = matplotlib.image.imread(str(png))
    height, width = image.shape[:2]
    assert width >= 800 and height >= 300
    assert image[..., :3].std() > 0.05  # curves and text, not a blank canvas


def test_duration_mode_and_no_subscriber():
    out = bench(
        "--duration", "0.3", "--batch", "100", "--latency-samples", "20", "--no-subscribe", "--json", "--no-progress"
    )
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    put = result["throughput"]["put"]
    assert put["records"] > 0 and put["records"] % 100 == 0 and put["records"] == result["throughput"]["get"]["records"]
    assert 0.3 <= put["seconds"] < 3
    assert "subscribe" not in result["latency"] and result["latency"]["poll"]["samples"] == 20


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "0"], "Invalid value for '--batch'"),
        (["--batch", "501"], "Invalid value for '--batch'"),
        (["--record-size", "1048576", "--batch", "10"], "a batch must hold at most 5 MiB"),
        (["--shards", "0"], "Invalid value for '--shards'"),
        (["--duration", "0"], "Invalid value for '--duration'"),
        (["--url", "ftp://x"], "unsupported URL 'ftp://x'"),
        (["--plot", "out.txt"], "the plot is a PNG file"),
    ],
)
def test_bad_options(args, message):
    out = bench(*args, "--no-progress", "--json")
    assert out.exit_code == 2, out.output
    assert message in out.output


def test_unreachable_url_is_one_line():
    out = bench("--url", "http://127.0.0.1:9", "--no-progress", "--json")
    assert out.exit_code == 1
    assert out.output.startswith("Error: ") and "127.0.0.1:9" in out.output


# a child in which rich and matplotlib cannot be imported, as when the viz extra is not installed
_WITHOUT_VIZ = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("rich", "matplotlib"):
                raise ModuleNotFoundError(name, name=name)
    sys.meta_path.insert(0, Block())
    from shardstream.cli import main
    main(sys.argv[1:])
    """
)


def without_viz(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_VIZ, "bench", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_without_the_viz_extra():
    proc = without_viz("--records", "1000", "--latency-samples", "10", "--no-progress", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["throughput"]["put"]["records"] == 1000

    proc = without_viz("--records", "1000", "--plot", "x.png")
    assert proc.returncode == 1 and "pip install 'shardstream[viz]'" in proc.stderr, proc.stderr
    assert "rich" in proc.stderr and "matplotlib" in proc.stderr and not os.path.exists("x.png")


def test_an_endpoint_without_subscribe_to_shard(monkeypatch):
    # moto (the stand-in for AWS) has no SubscribeToShard: the polling reader is timed alone, the other says why
    from moto_process import CREDENTIALS, MotoProcess

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with MotoProcess() as moto:
        out = bench("--url", moto.url, "--records", "300", "--batch", "100", "--shards", "1", "--latency-samples", "10")
        assert out.exit_code == 0, out.output
        assert "(remote)" in out.stdout and "unavailable" in out.stdout and "SubscribeToShard:" in out.stdout

        out = bench(
            *["--url", moto.url, "--records", "300", "--batch", "100", "--shards", "1"],
            "--latency-samples",
            "10",
            "--json",
            "--no-progress",
        )
    result = json.loads(out.stdout)
    assert result["target"]["kind"] == "remote" and result["throughput"]["get"]["records"] == 300
    lat = result["latency"]
    assert lat["poll"]["samples"] == 10 and 0 < lat["poll"]["p50_us"] <= lat["poll"]["max_us"]
    assert lat["subscribe"]["samples"] == 0 and lat["subscribe"]["lost"] == 10 and lat["subscribe"]["error"]
