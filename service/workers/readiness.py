"""Whether every worker is ready, as the supervisor sees it and tells each worker.

A worker counts as ready while its process runs, its last line on its link said `ready`
and that line is at most STALE_S old (workers repeat it every second: a worker whose
event loop is stuck, or that was stopped, goes stale). Any worker not ready makes the
whole NOT_SERVING: a health check on the shared port reaches one worker at random, and
must answer for all of them (service/ops/worker_link.py, docs/workers.md).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

from service.ops.worker_link import encode

log = structlog.get_logger("service.workers")
STALE_S = 5.0


@dataclass(slots=True)
class _Report:
    ready: bool
    at: float  # time.monotonic() of the worker's last line


class WorkersReadiness:
    """Every worker's last report, and the links to tell them all of the whole."""

    def __init__(self, count: int, stale_s: float = STALE_S) -> None:
        self._count = count
        self._stale_s = stale_s
        self._reports: dict[int, _Report] = {}
        self._links: dict[int, asyncio.StreamWriter] = {}
        self._all_ready = False
        self.became_ready = asyncio.Event()  # set once every worker was ready together

    @property
    def all_ready(self) -> bool:
        return self._all_ready

    def joined(self, index: int, link: asyncio.StreamWriter) -> None:
        """A worker started: it is told the whole at once, and again on every change."""
        self._links[index] = link
        self._reports.pop(index, None)
        _tell(link, self._all_ready)
        self.check()

    def reported(self, index: int, ready: bool) -> None:
        self._reports[index] = _Report(ready, time.monotonic())
        self.check()

    def left(self, index: int) -> None:
        """The worker's process exited (or its link closed)."""
        self._links.pop(index, None)
        self._reports.pop(index, None)
        self.check()

    def check(self) -> None:
        """Recompute the whole (also on a timer, for reports that went stale)."""
        now = time.monotonic()
        not_ready = [i for i in range(self._count) if not self._fresh(i, now)]
        all_ready = not not_ready
        if all_ready == self._all_ready:
            return
        self._all_ready = all_ready
        report = log.info if all_ready else log.warning
        report("workers.readiness_changed", serving=all_ready, not_ready=not_ready)
        if all_ready:
            self.became_ready.set()
        for link in self._links.values():
            _tell(link, all_ready)

    def silent_s(self, index: int, now: float) -> float | None:
        """Seconds since worker `index` last spoke; None before its first line."""
        last = self._reports.get(index)
        return None if last is None else now - last.at

    def _fresh(self, index: int, now: float) -> bool:
        last = self._reports.get(index)
        return last is not None and last.ready and now - last.at <= self._stale_s


def _tell(link: asyncio.StreamWriter, ready: bool) -> None:
    if not link.is_closing():
        link.write(encode(ready))
