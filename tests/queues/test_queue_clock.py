"""Long polls on an engine whose clock the test moves (``shardstream.testing.ManualClock``).

A visibility timeout passes in no real time: moving the clock wakes the
waiting receive at once, and moving it too little wakes it without handing
anything out.
"""

from __future__ import annotations

import threading
import time

import pytest

from queues.helpers import make_queue, put
from shardstream import Engine
from shardstream.testing import ManualClock


def poll_in_thread(queue, wait_s, **kw):
    out: dict = {}
    started = threading.Event()

    def run():
        started.set()
        began = time.monotonic()
        out["table"] = queue.receive_batch(10, wait_s=wait_s, **kw)
        out["took"] = time.monotonic() - began

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    return thread, out


def wait_until_waiting(stream, timeout=5.0):
    """Until a long poll sleeps on the stream's write signal."""
    deadline = time.monotonic() + timeout
    while stream.writes.waiting == 0:
        assert time.monotonic() < deadline, "the long poll never started waiting"
        time.sleep(0.001)


@pytest.fixture
def env():
    clock = ManualClock(start_ms=1_700_000_000_000)
    engine = Engine(clock=clock)
    stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=30)
    put(stream, 1)
    queue = engine.queues.queue(arn)
    assert queue.receive_batch(10).num_rows == 1  # in flight until clock + 30 s
    return clock, stream, queue


def test_moving_the_clock_past_the_timeout_wakes_the_long_poll_at_once(env):
    clock, stream, queue = env
    thread, out = poll_in_thread(queue, wait_s=15)
    wait_until_waiting(stream)
    clock.advance(seconds=30)
    thread.join(10)
    assert out["table"].column("receive_count").to_pylist() == [2]
    assert out["took"] < 5  # woken by the move, not by the 15 s wait running out


def test_moving_the_clock_too_little_hands_out_nothing(env):
    clock, stream, queue = env
    thread, out = poll_in_thread(queue, wait_s=1)
    wait_until_waiting(stream)
    clock.advance(seconds=29)
    thread.join(10)
    assert out["table"].num_rows == 0
    assert out["took"] >= 0.9  # it went back to waiting until its own time ran out


def test_the_clock_only_moves_forward():
    clock = ManualClock(start_ms=5)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.advance(ms=10, seconds=1.5) == 1_515 == clock()
