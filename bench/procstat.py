"""What the benchmarks read about processes: a free loopback port, CPU time, RSS."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the peak resident set since the process started."""
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float:
    """VmRSS: the resident set now."""
    return _status_mib(pid, "VmRSS:")


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it (a supervisor's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU of `pid` and its live descendants (workers restarted meanwhile are missed)."""
    return _tree_sum(pid, cpu_seconds)


def tree_peak_rss_mib(pid: int) -> float:
    """The sum of the peak resident sets of `pid` and its live descendants."""
    return _tree_sum(pid, peak_rss_mib)


def _tree_sum(pid: int, read: Callable[[int], float]) -> float:
    total = 0.0
    for member in descendants(pid):
        try:
            total += read(member)
        except OSError:  # it exited while we looked
            continue
    return total
