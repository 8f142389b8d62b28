"""The per-shard daemon: a record processor that holds the MultiLangDaemon conversation with a child.

One job: :class:`MultiLangProcessor` starts ``executableName`` for the shard
it is given, sends it the protocol's messages (:mod:`shardstream.kcl.protocol`,
where the conversation is described) for each
:class:`~shardstream.consumer.RecordProcessor` callback, serves its
checkpoints, and kills it (raising :class:`MultiLangError`) when it breaks the
protocol; :func:`close_all` kills every child still running.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import NoReturn

from ..consumer.processor import Checkpointer, InvalidCheckpointError, RecordProcessor
from .config import KclConfig
from .protocol import checkpoint_error_name, decode_message, record_messages

__all__ = ["MultiLangError", "MultiLangProcessor", "close_all"]

_log = logging.getLogger("shardstream.kcl")

_EOF = object()


class MultiLangError(RuntimeError):
    """The child process broke the protocol: it exited, answered wrongly, or took too long."""


_LIVE: weakref.WeakSet = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def close_all() -> None:
    """Kill every child process still running (the daemon is exiting)."""
    with _LIVE_LOCK:
        processors = list(_LIVE)
    for processor in processors:
        processor.close()


class MultiLangProcessor(RecordProcessor):
    """A record processor that drives a MultiLangDaemon child process for one shard.

    Parameters
    ----------
    config : KclConfig
        Its :meth:`KclConfig.resolved_command` is the child, its
        ``timeout_in_seconds`` bounds every wait for the child.
    on_failure : callable, optional
        ``on_failure(error)`` when the child broke the protocol (after it was
        killed, before :class:`MultiLangError` is raised); ``shardstream kcl``
        stops the worker, as the Java daemon exits.
    stderr : file, optional
        Where the child's stderr lines go (default: ``sys.stderr`` when written).
    env : dict, optional
        The child's environment (default: ours).
    cwd : path-like, optional
        The child's working directory (default: ours).

    Examples
    --------
    >>> import shardstream
    >>> from shardstream.kcl import KclConfig, MultiLangProcessor
    >>> config = KclConfig.from_properties("app.properties")           # doctest: +SKIP
    >>> consumer = shardstream.Consumer(stream, config.application_name,   # doctest: +SKIP
    ...     lambda: MultiLangProcessor(config), record_format="dicts", leases=config.lease_file)
    """

    def __init__(
        self,
        config: KclConfig,
        *,
        on_failure: Callable[[MultiLangError], None] | None = None,
        stderr=None,
        env: Mapping[str, str] | None = None,
        cwd=None,
    ):
        self.config = config
        self.on_failure = on_failure
        self._stderr = stderr
        self._env = None if env is None else dict(env)
        self._cwd = cwd
        self.shard_id: str | None = None
        self.state = "new"  # new -> active -> shutdown | failed
        self.returncode: int | None = None
        self._proc: subprocess.Popen | None = None
        self._messages: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    # -- RecordProcessor callbacks ------------------------------------------------------------------

    def initialize(self, shard_id: str, starting_position: str) -> None:
        """Start the child and send it ``initialize`` with ``shard_id`` and ``starting_position`` (sub-sequence 0)."""
        self.initialize_at(shard_id, starting_position, 0)

    def initialize_at(self, shard_id: str, starting_position: str, sub_sequence_number: int) -> None:
        """Start the child and send it ``initialize`` with the checkpoint it resumes after.

        Parameters
        ----------
        shard_id : str
        starting_position : str
            Sent as ``sequenceNumber``.
        sub_sequence_number : int
            Sent as ``subSequenceNumber`` (the checkpoint's position in a KPL aggregate).  The
            protocol's is never negative: a checkpoint just before a record (-1, which
            ``shardstream groups reset`` writes) is sent as 0.
        """
        self.shard_id = shard_id
        self._start()
        message = {"action": "initialize", "shardId": shard_id, "sequenceNumber": starting_position}
        self._call({**message, "subSequenceNumber": max(0, int(sub_sequence_number))}, None)
        self.state = "active"

    def process(self, records, checkpointer: Checkpointer, millis_behind_latest) -> None:
        """Send ``processRecords`` and serve the child's checkpoints until it reports done.

        Parameters
        ----------
        records : pyarrow.RecordBatch or list of dict
            Sent as the MultiLangDaemon's record messages (``data`` base64).
        checkpointer : Checkpointer
            Serves the child's ``checkpoint`` requests.
        millis_behind_latest : int
            Sent as ``millisBehindLatest``.
        """
        self._require_active("processRecords")
        message = {
            "action": "processRecords",
            "records": record_messages(records),
            "millisBehindLatest": millis_behind_latest,
        }
        self._call(message, checkpointer)

    def lease_lost(self) -> None:
        """Send ``leaseLost`` (checkpoints are refused), then let the child exit."""
        self._finish({"action": "leaseLost"}, None)

    def shard_ended(self, checkpointer: Checkpointer) -> None:
        """Send ``shardEnded`` (the child must checkpoint ``SHARD_END`` through ``checkpointer``), then let it exit."""
        self._finish({"action": "shardEnded"}, checkpointer)

    def shutdown_requested(self, checkpointer: Checkpointer) -> None:
        """Send ``shutdownRequested`` (the child may checkpoint), then ``leaseLost`` as KCL 2.x/3.x do.

        The child then exits.  Nothing is sent when the child is not running.

        Parameters
        ----------
        checkpointer : Checkpointer
            Serves the child's ``checkpoint`` requests meanwhile.
        """
        if self.state != "active":
            _log.info("shutdown requested for shard %s, whose child is not running", self.shard_id)
            return
        self._call({"action": "shutdownRequested"}, checkpointer)
        self._finish({"action": "leaseLost"}, None)

    # -- the child process ---------------------------------------------------------------------------

    def _start(self) -> None:
        try:
            command = self.config.resolved_command()
        except ValueError as exc:
            self._fail(f"Failed to start client executable for shard {self.shard_id}: {exc}")
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                cwd=self._cwd,
                # Ctrl-C reaches the daemon only; it shuts the children down gracefully.
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            self._fail(f"Failed to start client executable {command!r} for shard {self.shard_id}: {exc}")
        with _LIVE_LOCK:
            _LIVE.add(self)
        _log.info("started child process %d for shard %s: %s", self._proc.pid, self.shard_id, " ".join(command))
        for target, stream, name in (
            (self._read_stdout, self._proc.stdout, "stdout"),
            (self._drain_stderr, self._proc.stderr, "stderr"),
        ):
            thread = threading.Thread(target=target, args=(stream,), name=f"kcl-{name}-{self.shard_id}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_stdout(self, stream) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    continue
                message = decode_message(line)
                if message is None:
                    _log.info("Skipping unexpected line on STDOUT for shard %s: %s", self.shard_id, line)
                else:
                    _log.debug("from child of shard %s: %s", self.shard_id, line)
                    self._messages.put(message)
        except (OSError, ValueError):  # the pipe was closed under us (the child was killed)
            pass
        finally:
            self._messages.put(_EOF)

    def _drain_stderr(self, stream) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                _log.debug("Received error line from subprocess [%s] for shard %s", line, self.shard_id)
                target = self._stderr if self._stderr is not None else sys.stderr
                try:
                    print(line, file=target, flush=True)
                except (OSError, ValueError):
                    pass
        except (OSError, ValueError):
            pass

    def _write(self, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":")) + "\n"
        with self._write_lock:
            self._proc.stdin.write(text.encode("utf-8"))
            self._proc.stdin.flush()

    def _call(self, message: dict, checkpointer: Checkpointer | None) -> None:
        action = message["action"]
        if self._proc is None:
            self._fail(f"no child process for shard {self.shard_id}")
        try:
            self._write(message)
        except (OSError, ValueError) as exc:
            self._fail(f"Failed to write {action} message to the child process of shard {self.shard_id}: {exc}")
        while True:
            try:
                reply = self._messages.get(timeout=self.config.timeout_in_seconds)
            except queue.Empty:
                self._fail(
                    f"Timed out after {self.config.timeout_in_seconds} s waiting for the status message of "
                    f"{action} from the child process of shard {self.shard_id} (timeoutInSeconds)"
                )
            if reply is _EOF:
                code = self._proc.poll()
                if code is None:
                    try:
                        code = self._proc.wait(1.0)
                    except subprocess.TimeoutExpired:
                        code = None
                how = "" if code is None else f" (it exited with status {code})"
                self._fail(
                    f"Reached end of STDOUT of the child process of shard {self.shard_id}{how} while waiting "
                    f"for the status message of {action}"
                )
            if reply["action"] == "checkpoint":
                self._checkpoint(reply, checkpointer)
            elif reply["action"] == "status":
                if reply.get("responseFor") != action:
                    self._fail(
                        f"Received status for {reply.get('responseFor')!r} from the child process of shard "
                        f"{self.shard_id} while waiting for {action!r}"
                    )
                _log.debug("child of shard %s finished %s", self.shard_id, action)
                return
            else:
                _log.info("Ignoring %s message from the child process of shard %s", reply["action"], self.shard_id)

    def _checkpoint(self, request: dict, checkpointer: Checkpointer | None) -> None:
        sequence_number = request.get("sequenceNumber")
        sub_sequence_number = request.get("subSequenceNumber")
        error = None
        if checkpointer is None:
            _log.error(
                "Was asked to checkpoint at %s but no checkpointer was provided for shard %s",
                sequence_number,
                self.shard_id,
            )
            error = "InvalidStateException"
        else:
            try:
                if sequence_number is None:
                    checkpointer.checkpoint()
                else:
                    sub = 0 if sub_sequence_number is None else int(sub_sequence_number)
                    if sub < 0:
                        raise InvalidCheckpointError(
                            f"Could not checkpoint at invalid, negative subsequence number {sub}"
                        )
                    checkpointer.checkpoint(sequence_number, sub)
            except Exception as exc:
                error = checkpoint_error_name(exc)
                _log.info("checkpoint of shard %s at %s failed: %s: %s", self.shard_id, sequence_number, error, exc)
        reply = {
            "action": "checkpoint",
            "sequenceNumber": sequence_number,
            "subSequenceNumber": sub_sequence_number,
            "error": error,
        }
        try:
            self._write(reply)
        except (OSError, ValueError) as exc:
            self._fail(f"Failed to write the checkpoint answer to the child process of shard {self.shard_id}: {exc}")

    def _require_active(self, action: str) -> None:
        if self.state != "active":
            raise MultiLangError(f"cannot send {action} to the child process of shard {self.shard_id}: {self.state}")

    def _finish(self, message: dict, checkpointer: Checkpointer | None) -> None:
        if self.state != "active":
            _log.warning(
                "%s for shard %s, but its child process is already %s", message["action"], self.shard_id, self.state
            )
            return
        self._call(message, checkpointer)
        self._shutdown_child()
        self.state = "shutdown"

    def _shutdown_child(self, grace: float = 10.0) -> None:
        """Close the child's stdin so it sees end of input, drain its output and wait for it to exit."""
        proc = self._proc
        if proc is None:
            return
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.returncode = proc.wait(grace)
        except subprocess.TimeoutExpired:
            _log.warning(
                "child process of shard %s did not exit %s s after its input ended; killing it", self.shard_id, grace
            )
            proc.kill()
            self.returncode = proc.wait()
        for thread in self._threads:
            thread.join(grace)
        self._close_pipes()
        _log.info("child process of shard %s exited with status %s", self.shard_id, self.returncode)

    def _close_pipes(self) -> None:
        proc = self._proc
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def _fail(self, reason: str) -> NoReturn:
        self.state = "failed"
        self._kill()
        error = MultiLangError(reason)
        _log.error("%s", reason)
        if self.on_failure is not None:
            try:
                self.on_failure(error)
            except Exception:
                _log.exception("on_failure callback failed")
        raise error

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        try:
            self.returncode = proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        for thread in self._threads:
            thread.join(2)
        self._close_pipes()

    def close(self) -> None:
        """Kill the child if it still runs (idempotent)."""
        if self.state in ("new", "active") and self._proc is not None:
            self.state = "failed" if self.state == "active" else self.state
            self._kill()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`initialize`)."""
        return None if self._proc is None else self._proc.pid

    def __repr__(self) -> str:
        return f"<MultiLangProcessor shard={self.shard_id} pid={self.pid} {self.state}>"
