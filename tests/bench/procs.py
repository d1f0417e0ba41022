"""The benchmark's processes: started as children, stopped by their own PIDs, CPU from /proc.

Only processes this bench started are ever signalled (their PIDs are kept in ``Started``); CPU
is read from ``/proc/<pid>/stat`` (user + system, all threads) for a process and its
descendants (uvicorn's workers), and for the PostgreSQL backends serving this run's databases
(their process title names the database) and for the local Kafka broker, which are read, never
signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and every live descendant."""
    stats = {pid: s for pid in _all_pids() if (s := _stat(pid)) is not None}
    family, total, grew = {root}, 0.0, True
    while grew:
        more = {pid for pid, (ppid, _) in stats.items() if ppid in family} - family
        family |= more
        grew = bool(more)
    for pid in family:
        if pid in stats:
            total += stats[pid][1]
    return total


def backends_cpu(marker: str) -> float:
    """CPU seconds of the PostgreSQL backends whose process title contains ``marker``."""
    total = 0.0
    for pid in _all_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if title.startswith(b"postgres: ") and marker.encode() in title:
            stat = _stat(pid)
            total += stat[1] if stat else 0.0
    return total


def broker_pid(run_dir: Path) -> int | None:
    """The local Kafka broker's PID (deploy/kafka/kafka.sh writes ``kafka/kafka.pid`` under the
    run folder), if it is alive and is that broker; None for a broker elsewhere. Read only."""
    try:
        pid = int((run_dir / "kafka" / "kafka.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"kafka.Kafka" in cmdline else None


@dataclass
class Started:
    """Children this bench started, by name; stopped in reverse order, by PID."""

    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> int:
        with open(log, "ab") as out:
            self.children[name] = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self.children[name].pid

    def pid(self, name: str) -> int:
        return self.children[name].pid

    def alive(self, name: str) -> bool:
        return self.children[name].poll() is None

    def stop_all(self, wait: float = 20.0) -> None:
        for name in reversed(list(self.children)):
            self.stop(name, wait)

    def stop(self, name: str, wait: float = 20.0) -> None:
        child = self.children.pop(name, None)
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)  # uvicorn's master stops its own workers
        try:
            child.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # its own session: only what it started
            child.wait(5)


def wait_ready(urls: dict[str, str], alive: Callable[[str], bool], timeout: float) -> None:
    """Poll each name's URL until it answers 200; fail if its process dies or time runs out."""
    deadline, pending = time.monotonic() + timeout, dict(urls)
    while pending:
        for name, url in list(pending.items()):
            if not alive(name):
                raise RuntimeError(f"{name} exited before it was ready (see its log)")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(0.3)


def cpu_snapshot(pids: dict[str, int], extra: dict[str, Callable[[], float]]) -> dict[str, float]:
    """CPU seconds so far: each named process tree, and each extra reading."""
    snap = {name: tree_cpu(pid) for name, pid in pids.items()}
    snap.update({name: read() for name, read in extra.items()})
    return snap


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items))
