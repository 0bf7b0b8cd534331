"""What the service really exports, for the tests of what the dashboard and the rules read.

Series and their label names come from a real service's /metrics (started on loopback,
with a couple of calls so that labelled series exist) and from the supervisor's registry of
`serve --workers N`. A family no call touched still shows in the text (HELP and TYPE), but
without a sample to carry its labels; its label names are then the ones the service's
Metrics declares. Label values are the ones the code can produce: its enums and constants.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from prometheus_client import Metric, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from plaid_emulator import start_emulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.adapters.plaid.reports import ENDPOINTS as REPORT_ENDPOINTS
from service.adapters.plaid.signals import ITEM_GET
from service.app.ports import ReportKind
from service.app.rate_budget import Scope
from service.domain.billing import Product
from service.domain.degraded import FailureClass
from service.domain.model import (
    BALANCE_GET,
    SIGNAL_EVALUATE,
    Basis,
    Rail,
    Result,
    Source,
)
from service.ops.metrics import SERVICE, Metrics
from service.ops.readiness import LEDGER, PLAID_CREDENTIALS
from service.ops.worker_metrics import WorkerMetrics
from tests.conftest import payment, scrape, start_harness, stop_harness
from tests.contract.documented import error_bodies

FIXTURES = Path(__file__).parents[1] / "fixtures"
CHECKOUT = (("authorization", "Bearer test-api-key-checkout"),)
# Labels Prometheus adds to every series it scrapes, and the series it makes itself.
TARGET_LABELS = frozenset({"job", "instance"})
SYNTHETIC = {"up": TARGET_LABELS}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
}


@dataclass
class Exported:
    """Series names (as PromQL selects them) and the label names each carries."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    sampled: set[str] = field(default_factory=set)  # series a scrape had samples of

    def add(self, text: str, declared: dict[str, tuple[str, ...]]) -> None:
        for family in text_string_to_metric_families(text):
            self._add(family, declared)

    def _add(self, family: Metric, declared: dict[str, tuple[str, ...]]) -> None:
        names = [family.name + suffix for suffix in _SUFFIXES[family.type]]
        for name in names:
            labels = self.labels.setdefault(name, set(TARGET_LABELS))
            labels.update(declared.get(family.name, ()))
            if name.endswith("_bucket"):
                labels.add("le")
        for sample in family.samples:
            self.sampled.add(sample.name)
            self.labels.setdefault(sample.name, set(TARGET_LABELS)).update(
                sample.labels
            )


def declared_labels() -> dict[str, tuple[str, ...]]:
    """Each family's label names as the service's Metrics declares them (by family name,
    as the text format's parser names families: a counter without `_total`)."""
    declared: dict[str, tuple[str, ...]] = {}
    for series in vars(Metrics()).values():
        names = getattr(
            series, "_labelnames", None
        )  # prometheus_client's metric objects
        if names is not None:
            name: str = series._name
            declared[name.removesuffix("_total")] = tuple(names)
    return declared


async def _scrape_a_real_service(workdir: Path) -> str:
    emulator = await start_emulator()
    try:
        harness = await start_harness(
            emulator.url,
            env={"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")},
            database_url=f"sqlite:///{workdir / 'ledger.db'}",
        )
        try:
            await harness.stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as refused:  # no API key
                await harness.stub.EvaluatePayment(payment(), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            return await scrape(harness)
        finally:
            await stop_harness(harness)
    finally:
        await emulator.close()


def exported_series() -> Exported:
    """Scrape one real service on loopback, and the supervisor's registry."""
    exported = Exported()
    declared = declared_labels()
    with tempfile.TemporaryDirectory() as workdir:
        exported.add(asyncio.run(_scrape_a_real_service(Path(workdir))), declared)
    # The supervisor merges its workers' files: none here, so its own series alone.
    with tempfile.TemporaryDirectory() as workers_files:
        supervisor = WorkerMetrics(workers_files)
        exported.add(generate_latest(supervisor.registry).decode(), declared)
    for name, labels in SYNTHETIC.items():
        exported.labels[name] = set(labels)
    return exported


def producible_values() -> dict[str, set[str]]:
    """Label values the code can produce, by label name (a label whose values are free,
    such as caller, reason or job, is absent)."""
    methods = pb.DESCRIPTOR.services_by_name["RiskDecisionService"].methods
    kinds = {
        (False, False): "unary",
        (True, False): "client_stream",
        (False, True): "server_stream",
        (True, True): "bidi_stream",
    }
    codes = {code.name for code in grpc.StatusCode}
    booleans = {"true", "false"}
    return {
        "rail": _values(Rail),
        "result": _values(Result),
        "source": _values(Source),
        "basis": _values(Basis),
        "failure_class": _values(FailureClass),
        "scope": _values(Scope),
        "product": _values(Product),
        "kind": _values(ReportKind),
        "degraded": booleans,
        "attempted": booleans,
        "fetched": booleans,
        "condition": {LEDGER, PLAID_CREDENTIALS},
        "grpc_code": codes,
        "grpc_service": {SERVICE},
        "grpc_method": {m.name for m in methods},
        "grpc_type": {kinds[m.client_streaming, m.server_streaming] for m in methods},
        "method": {m.name for m in methods},
        "endpoint": {
            SIGNAL_EVALUATE,
            BALANCE_GET,
            ITEM_GET,
            *REPORT_ENDPOINTS.values(),
        },
    }


def values_of(series: str, label: str) -> set[str] | None:
    """What `label` of `series` can hold; None when the values are free."""
    if label == "outcome":
        if series.startswith("achrisk_plaid_request_duration_seconds"):
            # Metrics.plaid_calls: ok, Plaid's error_code, no_answer or http_NNN.
            documented = {body["error_code"] for _, body in error_bodies()}
            http = {f"http_{status}" for status in range(100, 600)}
            return {"ok", "no_answer", *http, *documented}
        if series.startswith("achrisk_plaid_billable_calls"):
            return {"attempted", "succeeded"}  # Metrics.billed
        if series.startswith("achrisk_outbox_delivery_attempts"):
            return {"delivered", "retry", "dead_lettered"}  # OutboxWorker's observe
        return None
    if label == "code":
        if series.startswith(("achrisk_rpc_refused", "achrisk_rpc_duration")):
            return {code.name for code in grpc.StatusCode}
        return None  # warning codes
    return producible_values().get(label)


def matches_some(pattern: str, values: Iterable[str]) -> bool:
    return any(re.fullmatch(pattern, value) for value in values)


def _values(enum: Iterable[object]) -> set[str]:
    return {str(member.value) for member in enum}  # type: ignore[attr-defined]
