"""Prometheus metrics: one registry per service instance, named by Prometheus conventions.

Under `ach-risk serve --workers N` each worker process writes its values to files that
the supervisor merges into one endpoint (prometheus_client's multiprocess mode, chosen
by PROMETHEUS_MULTIPROC_DIR in the worker's environment; docs/workers.md): counters and
histograms are summed over every worker that ever ran, and each gauge says below how
its workers' values combine. With one process the modes are ignored.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.app.errors import PlaidFailure
from service.app.ports import OutboxStats
from service.domain.billing import Billing, Product
from service.domain.model import Decision, PlaidCall
from service.ops.process_metrics import GcCounters

_RISK = pb.DESCRIPTOR.services_by_name["RiskDecisionService"]
SERVICE = _RISK.full_name
# Each method's grpc_type as the gRPC series name it, read from the proto's streaming flags.
_GRPC_TYPES = {
    m.name: {
        (False, False): "unary",
        (True, False): "client_stream",
        (False, True): "server_stream",
        (True, True): "bidi_stream",
    }[m.client_streaming, m.server_streaming]
    for m in _RISK.methods
}
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40)
# How workers' values of a gauge combine: "livesum" adds what each running worker holds
# (its own calls in flight); "livemostrecent" keeps the newest value any running worker
# set (a reading of the one shared ledger, which N workers must not multiply);
# "livemin" keeps the lowest (a condition is met only if every running worker meets it).
GaugeMode = Literal["livesum", "livemostrecent", "livemin"]


class _Series:
    """Makes each series in one registry: a name, a help text and label names."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, labels, registry=self._registry)

    def gauge(self, name: str, doc: str, workers: GaugeMode, *labels: str) -> Gauge:
        return Gauge(
            name, doc, labels, registry=self._registry, multiprocess_mode=workers
        )

    def histogram(self, name: str, doc: str, *labels: str) -> Histogram:
        return Histogram(name, doc, labels, buckets=_SECONDS, registry=self._registry)


class Metrics:
    """Every series the service exports, and the few ways to move them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        # Labelled children, found once: prometheus_client's labels() checks, converts
        # and locks on every call (~3 us, several per decision, profiled under load).
        # As many entries as the series have label values, which are bounded.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        new = _Series(self.registry)
        self._gc: GcCounters | None = None
        if registry is None and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            # A worker: the supervisor reads process_* from /proc; collections are
            # counted into the files it merges (ops/process_metrics.py).
            self._gc = GcCounters(self.registry)
        elif registry is None:
            # process_* (CPU, RSS, open files) and python_gc_* (collections per
            # generation: the tuning in ops/runtime.py shows here) beside our own.
            for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
                self.registry.register(collector)
        # The gRPC ecosystem's server series (go-grpc-prometheus and its ports), so
        # off-the-shelf dashboards and alerts work: every call of our service is
        # started and handled with its code; only handled, not refused, calls are timed.
        self.grpc_started = new.counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            "grpc_service",
            "grpc_method",
            "grpc_type",
        )
        self.grpc_handled = new.counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status code.",
            "grpc_service",
            "grpc_method",
            "grpc_type",
            "grpc_code",
        )
        self.grpc_handling = new.histogram(
            "grpc_server_handling_seconds",
            "Latency of RPCs handled (not refused) by the server.",
            "grpc_service",
            "grpc_method",
            "grpc_type",
        )
        # Refused calls are counted apart: observed here, their near-zero durations
        # would pull the percentiles down exactly when the service is overloaded.
        self.rpc_duration = new.histogram(
            "achrisk_rpc_duration_seconds",
            "Latency of handled RPCs by method and status code.",
            "method",
            "code",
        )
        self.refused = new.counter(
            "achrisk_rpc_refused_total",
            "RPCs refused before they were handled: no valid API key, or shed.",
            "method",
            "code",
        )
        self.in_flight = new.gauge(
            "achrisk_rpc_in_flight",
            "RPCs of RiskDecisionService being handled.",
            workers="livesum",
        )
        self.shed = new.counter(
            "achrisk_rpc_shed_total",
            "RPCs refused at once because too many were in flight.",
        )
        self.plaid_duration = new.histogram(
            "achrisk_plaid_request_duration_seconds",
            "Plaid call latency by endpoint and outcome (ok, the error code, or no_answer).",
            "endpoint",
            "outcome",
        )
        self.plaid_retries = new.counter(
            "achrisk_plaid_retries_total",
            "Plaid calls that were retry attempts.",
            "endpoint",
        )
        self.decisions = new.counter(
            "achrisk_decisions_total",
            "Decisions made (replays excluded).",
            "rail",
            "result",
            "source",
            "degraded",
        )
        self.replays = new.counter(
            "achrisk_decision_replays_total", "Decisions served from the ledger."
        )
        self.realtime = new.counter(
            "achrisk_realtime_balance_total",
            "Decisions by real-time balance basis, whether a live extraction was asked "
            "of the bank (attempted, billed by Plaid) and whether a fresh balance came "
            "back (fetched).",
            "basis",
            "attempted",
            "fetched",
        )
        self.disagreements = new.counter(
            "achrisk_realtime_balance_warnings_total",
            "Registry/evidence disagreements and evidence gaps, by warning code.",
            "code",
        )
        self.degraded = new.counter(
            "achrisk_degraded_decisions_total",
            "Decisions made without Plaid's answer.",
            "failure_class",
        )
        # What readiness (ops/readiness.py) is made of, so that an alert can say which
        # condition took the service out of traffic: an unready pod gets no calls, so
        # its failing calls stop, but this stays 0.
        self.ready = new.gauge(
            "achrisk_ready",
            "1 while a readiness condition holds (ledger, plaid_credentials), 0 while "
            "it fails and the service answers NOT_SERVING.",
            "livemin",
            "condition",
        )
        self.outbox_pending = new.gauge(
            "achrisk_outbox_pending_reports",
            "Reports stored and not yet delivered.",
            workers="livemostrecent",
        )
        self.outbox_oldest = new.gauge(
            "achrisk_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered report.",
            workers="livemostrecent",
        )
        self.outbox_dead = new.gauge(
            "achrisk_outbox_dead_lettered_reports",
            "Reports given up on.",
            workers="livemostrecent",
        )
        self.outbox_dead_letters = new.counter(
            "achrisk_outbox_dead_letters_total",
            "Reports given up on, by report kind and reason (Plaid's error code).",
            "kind",
            "reason",
        )
        self.outbox_attempts = new.counter(
            "achrisk_outbox_delivery_attempts_total",
            "Report delivery attempts by outcome.",
            "kind",
            "outcome",
        )

        self.budget_waits = new.counter(
            "achrisk_rate_budget_waits_total",
            "Plaid calls that waited for room in a rate budget, by endpoint and scope.",
            "endpoint",
            "scope",
        )
        self.budget_wait = new.histogram(
            "achrisk_rate_budget_wait_seconds",
            "Time Plaid calls waited for room in a rate budget (calls that waited).",
            "endpoint",
        )
        self.budget_refusals = new.counter(
            "achrisk_rate_budget_refusals_total",
            "Plaid calls refused by a spent rate budget before Plaid saw them, by "
            "endpoint and the budget's scope.",
            "endpoint",
            "scope",
        )

        # What Plaid bills, per caller (docs/plaid-behaviour.md, "What Plaid bills"):
        # every call is counted `attempted` under the product it is billed as, and
        # `succeeded` as well when Plaid answered it (a live extraction: and a fresh
        # balance came back).
        self.billable = new.counter(
            "achrisk_plaid_billable_calls_total",
            "Plaid calls by caller, the product Plaid bills them as (balance_extraction, "
            "signal_transaction_scores, free) and outcome (attempted: every call, "
            "answered or not; succeeded: answered, and for a live extraction a fresh "
            "balance came back). Retries are calls.",
            "caller",
            "product",
            "outcome",
        )

    def _child(self, series: Counter | Gauge | Histogram, *labels: str) -> Any:
        """`series.labels(*labels)`, cached."""
        key = (series, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = series.labels(*labels)
        return child

    def rate_budget(
        self, endpoint: str, scope: str, outcome: str, waited_s: float
    ) -> None:
        """A rate budget made a Plaid call wait (outcome "waited") or refused it."""
        if outcome == "refused":
            self._child(self.budget_refusals, endpoint, scope).inc()
        else:
            self._child(self.budget_waits, endpoint, scope).inc()
            self._child(self.budget_wait, endpoint).observe(waited_s)

    def rpc_started(self, method: str) -> None:
        """An RPC of our service arrived (refused or not)."""
        self._child(self.grpc_started, SERVICE, method, _grpc_type(method)).inc()

    def rpc_finished(self, method: str, code: str, seconds: float) -> None:
        """A handled RPC: its latency goes into the histograms."""
        self._child(self.rpc_duration, method, code).observe(seconds)
        self.grpc_finished(method, code, seconds)

    def grpc_finished(self, method: str, code: str, seconds: float) -> None:
        """A handled RPC in the gRPC ecosystem's series alone (the stream's)."""
        kind = _grpc_type(method)
        self._child(self.grpc_handled, SERVICE, method, kind, code).inc()
        self._child(self.grpc_handling, SERVICE, method, kind).observe(seconds)

    def rpc_refused(self, method: str, code: str) -> None:
        """An RPC refused before it was handled: counted, kept out of the latencies."""
        self._child(self.refused, method, code).inc()
        self._child(self.grpc_handled, SERVICE, method, _grpc_type(method), code).inc()

    def decided(
        self, decision: Decision, caller: str, billed: tuple[Billing, ...]
    ) -> None:
        """A decision returned; `billed`: its Plaid calls as Plaid bills them."""
        if decision.replayed:
            self.replays.inc()
            return
        verdict, realtime = decision.verdict, decision.realtime
        self._child(
            self.decisions,
            decision.attempt.rail.value,
            verdict.result.value,
            verdict.source.value,
            str(decision.degraded).lower(),
        ).inc()
        self._child(
            self.realtime,
            realtime.basis.value,
            str(realtime.was_attempted).lower(),
            str(realtime.fetched).lower(),
        ).inc()
        for warning in realtime.warnings:
            self._child(self.disagreements, warning.code).inc()
        if decision.degraded_cause is not None:
            self._child(self.degraded, decision.degraded_cause.failure_class).inc()
        self.plaid_calls(decision.plaid_calls)
        self.billed(caller, billed)

    def failed(
        self, exc: BaseException, caller: str, billed: tuple[Billing, ...]
    ) -> None:
        """A call failed; `billed`: the Plaid calls it made, as Plaid bills them."""
        if isinstance(exc, PlaidFailure):
            self.plaid_calls(exc.calls)
            self.billed(caller, billed)

    def billed(self, caller: str, billings: tuple[Billing, ...]) -> None:
        """Plaid calls made for `caller`, by what Plaid bills them as."""
        for billing in billings:
            product = billing.product.value
            self._child(self.billable, caller, product, "attempted").inc()
            if billing.succeeded:
                self._child(self.billable, caller, product, "succeeded").inc()

    def report_sent(self, caller: str, answered: bool) -> None:
        """One delivery attempt of a report to Plaid: free."""
        self.billed(caller, (Billing(Product.FREE, succeeded=answered),))

    def plaid_calls(self, calls: tuple[PlaidCall, ...]) -> None:
        for call in calls:
            outcome = (
                "ok"
                if 200 <= call.http_status < 300
                else call.error_code
                or (
                    "no_answer" if call.http_status == 0 else f"http_{call.http_status}"
                )
            )
            self._child(self.plaid_duration, call.endpoint, outcome).observe(
                call.duration_ms / 1000
            )
            if call.attempt > 1:
                self._child(self.plaid_retries, call.endpoint).inc()

    def readiness(self, condition: str, ok: bool) -> None:
        """A readiness condition was checked (or assumed, at start)."""
        self._child(self.ready, condition).set(1 if ok else 0)

    def outbox(self, stats: OutboxStats) -> None:
        self.outbox_pending.set(stats.pending)
        self.outbox_oldest.set(stats.oldest_pending_age_s)
        self.outbox_dead.set(stats.dead_lettered)

    def delivery(self, kind: str, outcome: str, reason: str) -> None:
        self._child(self.outbox_attempts, kind, outcome).inc()
        if outcome == "dead_lettered":
            self._child(self.outbox_dead_letters, kind, reason).inc()


def _grpc_type(method: str) -> str:
    return _GRPC_TYPES[method]
