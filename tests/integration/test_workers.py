"""`hlsd worker` from the outside: this test plays the daemon's part on fd 3
(a socketpair) and checks the worker side of docs/WORKER-PROTOCOL.md with the
test job kinds (HLSD_TEST_JOBS=1). The daemon side (supervisor, stop ladder,
death with the parent) is covered by tests/unit/test_supervisor.c, and the
daemon's SIGKILL with live workers by test_live.py."""
import json
import os
import signal
import socket
import subprocess
import time

import harness


class Worker:
    """`hlsd worker` with our end of a socketpair; its end is its fd 3."""

    def __init__(self, parent_pid=None, test_jobs=True, extra_env=None, with_fd3=True):
        env = dict(os.environ)
        env.pop("HLSD_TEST_JOBS", None)
        if test_jobs:
            env["HLSD_TEST_JOBS"] = "1"
        env["HLSD_PARENT_PID"] = str(os.getpid() if parent_pid is None else parent_pid)
        env.update(extra_env or {})
        self.proc, self.sock = harness.start_worker(env, "debug", subprocess.PIPE,
                                                    subprocess.PIPE, with_fd3)
        self.lines = harness.JsonLines(self.sock)
        self.events = []

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def send_raw(self, data):
        self.sock.sendall(data)

    def next_event(self, timeout=5.0):
        ev = self.lines.read(timeout, lambda: f" (got {self.events[-5:]})")
        if ev is None:
            return None
        assert isinstance(ev, dict), ev
        self.events.append(ev)
        return ev

    def wait_event(self, type_, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError(f"channel closed before a {type_!r} event: {self.events[-5:]}")
            if ev.get("type") == type_:
                return ev

    def rest(self, timeout=5.0):
        """Every remaining event until EOF."""
        out = []
        while True:
            ev = self.next_event(timeout)
            if ev is None:
                return out
            out.append(ev)

    def wait_exit(self, timeout=5.0):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"worker still running after {timeout}s: {err.decode()[-2000:]}")
        self.stdout, self.stderr = out.decode(), err.decode()
        harness.check_sanitizer_log(self.stderr, "worker stderr")
        return self.proc.returncode

    def close(self):
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_worker_job_events_and_polite_stop():
    with Worker() as w:
        w.send({"kind": "test-sleep", "name": "it worker 1"})
        started = w.wait_event("started")
        assert started["pid"] == w.proc.pid
        frames = [w.wait_event("progress")["frames"] for _ in range(3)]
        assert frames == [frames[0], frames[0] + 1, frames[0] + 2], frames
        # A control command other than stop reaches the job (echoed by test-sleep).
        w.send({"cmd": "want", "segment": 7})
        echo = w.wait_event("echo")
        assert echo["cmd"] == {"cmd": "want", "segment": 7}, echo
        t0 = time.monotonic()
        w.send({"cmd": "stop"})
        rest = w.rest()
        assert rest and rest[-1] == {"type": "done"}, rest[-3:]
        assert w.wait_exit() == 0
        assert time.monotonic() - t0 < 2.0
        assert w.stdout == "", f"worker wrote to stdout: {w.stdout[:200]!r}"
        # Its log lines carry the job's name as prefix.
        assert "[it worker 1]" in w.stderr, w.stderr[-1000:]


def test_worker_sigterm_and_eof_stop_it():
    # SIGTERM (the ladder's second step) ends a job like a stop request.
    with Worker() as w:
        w.send({"kind": "test-sleep", "name": "it sigterm"})
        w.wait_event("progress")
        w.proc.send_signal(signal.SIGTERM)
        assert w.rest()[-1] == {"type": "done"}
        assert w.wait_exit() == 0
    # EOF on fd 3: the daemon is gone, the worker stops by itself.
    with Worker() as w:
        w.send({"kind": "test-sleep", "name": "it eof"})
        w.wait_event("progress")
        w.sock.shutdown(socket.SHUT_WR)
        assert w.wait_exit() == 0
        assert "closed by the daemon" in w.stderr, w.stderr[-1000:]
    # The job and a stop in the same write: the stop is not lost.
    with Worker() as w:
        w.send_raw(b'{"kind":"test-sleep","name":"it both"}\n{"cmd":"stop"}\n')
        rest = w.rest()
        assert rest[0]["type"] == "started" and rest[-1] == {"type": "done"}, rest
        assert w.wait_exit() == 0


def test_worker_ignore_stop_exits_on_sigterm():
    with Worker() as w:
        w.send({"kind": "test-ignore-stop", "name": "it ignore"})
        w.wait_event("progress")
        w.send({"cmd": "stop"})
        # Still running and reporting well after the request...
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.5:
            assert w.next_event()["type"] == "progress"
        assert w.proc.poll() is None
        # ...until SIGTERM.
        w.proc.send_signal(signal.SIGTERM)
        rest = w.rest()
        assert [e["type"] for e in rest[-2:]] == ["sigterm", "done"], rest[-3:]
        assert w.wait_exit() == 0


def test_worker_failures_are_one_error_event_and_exit_1():
    cases = [
        # (lines sent, test jobs enabled, expected words in the error message)
        ([b'{"name":"it nokind"}\n'], True, "kind"),
        ([b'{"kind":"test-sleep","name":"it refused"}\n'], False, "HLSD_TEST_JOBS"),
        ([b'{"kind":"test-nonsense","name":"it unknown"}\n'], True, "test-nonsense"),
        ([b'{"kind":"test-sleep","name":"it fail","seconds":0.2,"fail":"boom here"}\n'], True,
         "boom here"),
        # Garbage before the job is dropped; the first object is the job.
        ([b"not json\n", b'[1]\n{"kind":"test-sleep","name":"it g","seconds":0.1,"fail":"x1"}\n'],
         True, "x1"),
    ]
    for lines, test_jobs, words in cases:
        with Worker(test_jobs=test_jobs) as w:
            for line in lines:
                w.send_raw(line)
            rest = w.rest()
            assert rest and rest[-1]["type"] == "error", (lines, rest)
            assert words in rest[-1]["message"], (words, rest[-1])
            assert len([e for e in rest if e["type"] == "error"]) == 1
            assert w.wait_exit() == 1, (lines, w.stderr[-500:])
            assert words in w.stderr


def test_worker_refuses_to_run_unsupervised():
    # Its parent is not the one named in HLSD_PARENT_PID (the daemon died
    # before the worker started): exit at once, without reading a job.
    with Worker(parent_pid=1 if os.getpid() != 1 else 2) as w:
        assert w.wait_exit(5) == 1
        assert "parent" in w.stderr, w.stderr
        assert w.rest() == []
    # No control socket on fd 3: a clear message, exit 2.
    with Worker(with_fd3=False) as w:
        assert w.wait_exit(5) == 2
        assert "fd 3" in w.stderr, w.stderr
    # The channel closes before any job: exit 1 quickly.
    with Worker() as w:
        w.sock.shutdown(socket.SHUT_WR)
        assert w.wait_exit(5) == 1
        assert "no job" in w.stderr, w.stderr


def test_worker_crash_is_a_signal():
    with Worker() as w:
        w.send({"kind": "test-crash", "name": "it crash"})
        assert w.wait_event("started")
        assert w.rest() == []
        assert w.wait_exit() == -signal.SIGABRT

