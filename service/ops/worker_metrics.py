"""The one metrics endpoint of `ach-risk serve --workers N`, served by the supervisor.

Each worker writes its series to files in a private directory (PROMETHEUS_MULTIPROC_DIR,
set in the workers' environment only); this registry merges them on every scrape, and
adds the supervisor's own series: the workers running and the restarts, and process_* for
the supervisor and its workers together (ops/process_metrics.py). A worker that
exits has its live gauges' files removed (`mark_process_dead`), so its calls in flight
and its outbox readings stop counting; its counters and histograms stay, so totals never
go down when a worker is restarted. docs/workers.md.
"""

from __future__ import annotations

import os
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from service.ops.process_metrics import ProcessTreeCollector


class WorkerMetrics:
    """The supervisor's registry: every worker's files, merged, and its own series."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self.registry = CollectorRegistry()
        # prometheus_client's multiprocess module carries no type annotations.
        MultiProcessCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        self._pids: set[int] = set()
        self.registry.register(
            ProcessTreeCollector(os.getpid(), lambda: tuple(self._pids))
        )
        self.registry.register(PLATFORM_COLLECTOR)
        self.workers = Gauge(
            "achrisk_workers",
            "Worker processes running (ach-risk serve --workers N).",
            registry=self.registry,
        )
        self.restarts = Counter(
            "achrisk_worker_restarts_total",
            "Worker processes started again after one exited.",
            registry=self.registry,
        )
        self._http: tuple[WSGIServer, Thread] | None = None

    def worker_started(self, pid: int) -> None:
        self.workers.inc()
        self._pids.add(pid)

    def worker_exited(self, pid: int) -> None:
        self.workers.dec()
        self._pids.discard(pid)
        mark_process_dead(pid, self._directory)  # type: ignore[no-untyped-call]

    def serve(self, listen: str) -> int:
        """Prometheus' text format on http://LISTEN/metrics, from a thread of its own;
        the port bound."""
        host, _, port = listen.rpartition(":")
        self._http = start_http_server(int(port), host.strip("[]"), self.registry)
        bound: int = self._http[0].server_address[1]
        return bound

    def close(self) -> None:
        if self._http is not None:
            http, thread = self._http
            http.shutdown()
            http.server_close()
            thread.join(timeout=5)
