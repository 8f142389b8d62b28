"""A hypothesis state machine for one queue against a simple pure-Python model of its records."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from .helpers import make_queue, put, setup

MAX_RECEIVES = 3
DEFAULT_VIS_S = 5


class Rec:
    """A delivered record as the model sees it."""

    def __init__(self):
        self.state = "inflight"  # inflight | dead | acked
        self.deadline = 0
        self.count = 0
        self.handle = None  # the current delivery's handle


class QueueMachine(RuleBasedStateMachine):
    """Receive, acknowledge, change visibility, let time pass, dead-letter, restore."""

    @initialize()
    def start(self):
        self.clock, self.engine, self.stream = setup()
        self.arn = make_queue(
            self.engine,
            self.stream,
            VisibilityTimeoutSeconds=DEFAULT_VIS_S,
            DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": MAX_RECEIVES},
        )
        self.queue = self.engine.queues.queue(self.arn)
        self.new = 0  # written, never delivered
        self.recs: dict[str, Rec] = {}
        self.handles: list[tuple[str, str, bool]] = []  # (handle, record id, dead path) ever issued
        self.written = 0

    def teardown(self):
        self.engine.close()

    def now(self):
        return self.clock()

    def sweep(self):
        for r in self.recs.values():
            if r.state == "inflight" and r.deadline <= self.now() and r.count >= MAX_RECEIVES:
                r.state, r.deadline, r.handle = "dead", self.now(), None

    @rule(n=st.integers(1, 6))
    def write(self, n):
        put(self.stream, n, f"w{self.written}-")
        self.written += n
        self.new += n

    @rule(ms=st.sampled_from([0, 500, 1_000, 5_000, 20_000]))
    def time_passes(self, ms):
        self.clock.advance(ms)

    def _receive(self, limit, vis, dead):
        self.sweep()
        state = "dead" if dead else "inflight"
        visible = [rid for rid, r in self.recs.items() if r.state == state and r.deadline <= self.now()]
        expected = min(limit, len(visible) + (0 if dead else self.new))
        table = self.queue.receive_batch(limit, vis, dead=dead)
        ids = table.column("record_id").to_pylist()
        assert len(ids) == expected
        assert len(set(ids)) == len(ids)
        until = self.now() + (DEFAULT_VIS_S if vis is None else vis) * 1000
        for rid, handle, count in zip(
            ids, table.column("receipt_handle").to_pylist(), table.column("receive_count").to_pylist()
        ):
            r = self.recs.get(rid)
            if r is None:
                assert not dead
                self.new -= 1
                r = self.recs[rid] = Rec()
            else:
                assert r.state == state and r.deadline <= self.now()
            if not dead:
                r.count += 1
            assert count == r.count
            r.deadline, r.handle = until, handle
            self.handles.append((handle, rid, dead))

    @rule(limit=st.integers(1, 10), vis=st.none() | st.sampled_from([0, 1, 30]))
    def receive(self, limit, vis):
        self._receive(limit, vis, False)

    @rule(limit=st.integers(1, 10))
    def receive_dead(self, limit):
        self._receive(limit, None, True)

    def _expected(self, picks, dead):
        state = "dead" if dead else "inflight"
        out = []
        for handle, rid, was_dead in picks:  # the same handle twice in one call succeeds twice
            r = self.recs[rid]
            out.append(was_dead == dead and r.state == state and r.handle == handle)
        return out

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), dead=st.booleans())
    def acknowledge(self, data, dead):
        picks = data.draw(st.lists(st.sampled_from(self.handles), min_size=1, max_size=10))
        expected = self._expected(picks, dead)
        got = self.queue.settle([p[0] for p in picks], "ack", dead=dead).tolist()
        assert got == expected
        for (handle, rid, _), good in zip(picks, got):
            if good:
                self.recs[rid].state, self.recs[rid].handle = "acked", None

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), dead=st.booleans(), seconds=st.sampled_from([0, 2, 60]))
    def change_visibility(self, data, dead, seconds):
        picks = data.draw(st.lists(st.sampled_from(self.handles), min_size=1, max_size=10))
        expected = self._expected(picks, dead)
        got = self.queue.settle([p[0] for p in picks], "visibility", dead=dead, visibility_s=seconds).tolist()
        assert got == expected
        for (handle, rid, _), good in zip(picks, got):
            if good:
                self.recs[rid].deadline = self.now() + seconds * 1000

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def restore(self, data):
        picks = data.draw(st.lists(st.sampled_from(self.handles), min_size=1, max_size=10))
        expected = self._expected(picks, True)
        got = self.queue.settle([p[0] for p in picks], "restore", dead=True).tolist()
        assert got == expected
        for (handle, rid, _), good in zip(picks, got):
            if good:
                r = self.recs[rid]
                r.state, r.deadline, r.count, r.handle = "inflight", self.now(), 0, None

    @invariant()
    def state_is_what_is_in_hand(self):
        if hasattr(self, "queue"):
            in_hand = sum(r.state != "acked" for r in self.recs.values())
            assert self.queue.state_size() == in_hand


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
