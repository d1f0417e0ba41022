"""Keep the local services running: a child that dies is started again after a backoff.

For `make run` / `make up` only. In production the orchestrator restarts (Kubernetes'
restartPolicy, compose's `restart: unless-stopped`); see deploy/README.md.

``Backoff`` is the policy (pure): 1 s, doubling to 30 s, back to 1 s once a child stayed up
60 s. ``Supervisor`` applies it to child processes it started itself and remembers by PID;
once asked to stop, it restarts nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Backoff:
    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0  # a child that stayed up this long starts again from ``initial``
    failures: int = 0

    def next_delay(self, uptime: float) -> float:
        """The wait before restarting a child that exited after ``uptime`` seconds."""
        if uptime >= self.reset_after:
            self.failures = 0
        delay = min(self.initial * 2**self.failures, self.maximum)
        self.failures += 1
        return delay


Starter = Callable[[], "subprocess.Popen[bytes]"]


@dataclass
class Child:
    name: str
    start: Starter
    log_file: Path  # the service's own log: restarts are noted there too
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        on_start: Callable[[], None] = lambda: None,  # e.g. rewrite the PID file
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = children
        self.on_start = on_start
        self.clock = clock
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never interleave

    def start_all(self) -> None:
        for child in self.children:
            self._launch(child)
        self.on_start()

    def run(self, poll: float = 0.2) -> None:
        """Watch until ``stop``: restart each child that exited, after its backoff."""
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(poll)

    def tick(self) -> None:
        with self._lock:
            if self.stopping.is_set():
                return
            now = self.clock()
            for child in self.children:
                self._check(child, now)

    def _check(self, child: Child, now: float) -> None:
        if child.restart_at is None:
            code = child.process.poll() if child.process else None
            if code is not None:
                delay = child.backoff.next_delay(now - child.started)
                child.restart_at = now + delay
                self._say(child, f"{child.name} exited with code {code}; restarting in {delay:g}s")
        elif now >= child.restart_at:
            self._launch(child)
            child.restarts += 1
            assert child.process is not None
            self._say(child, f"{child.name} restarted (pid {child.process.pid})")
            self.on_start()

    def _launch(self, child: Child) -> None:
        child.process = child.start()
        child.started = self.clock()
        child.restart_at = None

    def stop(self, timeout: float = 20) -> None:
        """Stop every child and restart none of them again (Ctrl-C, `make down`)."""
        self.stopping.set()
        with self._lock:
            running = [c.process for c in self.children if c.process and c.process.poll() is None]
            for process in running:
                process.terminate()
            for process in running:
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children if c.process]

    def _say(self, child: Child, message: str) -> None:
        print(f"supervisor: {message}", file=sys.stderr, flush=True)
        line = {
            "time": datetime.now(UTC).isoformat(),
            "level": "WARNING",
            "logger": "supervisor",
            "message": message,
            "service": child.name,
        }
        with child.log_file.open("a") as log:
            log.write(json.dumps(line) + "\n")
