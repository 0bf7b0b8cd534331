"""deploy/grafana: a provisioning-ready dashboard that reads only what the service exports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.exported import Exported
from tests.deploy.files import ROOT
from tests.deploy.reads import problems, recorded_series
from tests.deploy.test_alerts import recording_rules

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ach-risk.json"
DATASOURCE = "${datasource}"
# Grafana's variables, as Prometheus would see them once substituted.
VARIABLES = {
    "$__rate_interval": "5m",
    "$__range": "1h",
    "$__interval": "1m",
    "$job": ".*",
    "$instance": ".*",
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in data_panels(dashboard) for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert inner, query
            # label_values(series, label): the series must carry the label.
            found.append(f"max by ({inner[2]}) ({inner[1]})")
    return found


def substituted(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown variable in {expr}"
    return expr


def test_the_dashboard_is_identified_for_provisioning(
    dashboard: dict[str, Any],
) -> None:
    assert dashboard["uid"] == "ach-risk"
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 39  # Grafana 11
    assert "id" not in dashboard or dashboard["id"] is None  # the instance assigns it
    (datasource,) = [
        v for v in dashboard["templating"]["list"] if v["name"] == "datasource"
    ]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"


def test_panel_ids_are_unique_and_panels_fit_the_grid(
    dashboard: dict[str, Any],
) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(g["x"], g["x"] + g["w"])
            for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells


def test_every_panel_queries_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    panels = data_panels(dashboard)
    assert len(panels) >= 20
    for panel in panels:
        assert panel["title"]
        assert panel["datasource"]["uid"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE


def test_no_instance_or_job_is_hard_coded(dashboard: dict[str, Any]) -> None:
    for expr in expressions(dashboard):
        for label in ("job", "instance"):
            for matcher in re.findall(rf'\b{label}\s*(?:=~|!~|!=|=)\s*"([^"]*)"', expr):
                assert matcher == f"${label}", expr
    assert not re.search(r"localhost|127\.0\.0\.1|:9464", DASHBOARD.read_text())


def test_every_selector_reads_what_the_service_exports(
    dashboard: dict[str, Any], exported: Exported
) -> None:
    recorded = recorded_series(recording_rules())
    found = {
        expr: problems(substituted(expr), exported, recorded)
        for expr in expressions(dashboard)
    }
    assert {expr: p for expr, p in found.items() if p} == {}


def test_the_dashboard_covers_what_operators_watch(dashboard: dict[str, Any]) -> None:
    """Each area of the service has panels reading its series."""
    text = " ".join(expressions(dashboard))
    for series in (
        "achrisk_decisions_total",
        "achrisk_realtime_balance_total",
        "achrisk_plaid_request_duration_seconds_bucket",
        "achrisk_degraded_decisions_total",
        "achrisk_rpc_refused_total",
        "achrisk_rpc_shed_total",
        "achrisk_rate_budget_refusals_total",
        "grpc_server_started_total",
        "grpc_server_handled_total",
        "grpc_server_handling_seconds_bucket",
        "achrisk_outbox_oldest_pending_age_seconds",
        "achrisk_outbox_dead_letters_total",
        "achrisk_ready",
        "achrisk_workers",
        "achrisk_worker_restarts_total",
        "achrisk_plaid_billable_calls_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
    ):
        assert re.search(rf"\b{series}\b", text), series


def test_the_runbook_lists_every_row(dashboard: dict[str, Any]) -> None:
    runbook = (ROOT / "docs" / "alerts.md").read_text()
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert len(rows) >= 5
    for title in rows:
        assert f"| {title} |" in runbook, title
