"""deploy/prometheus/rules: valid for promtool, every alert tested firing and quiet, each
with its runbook entry, and every series, label and value they read really exported."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.exported import Exported
from tests.deploy.files import COMPOSE, ROOT, load, service_sources
from tests.deploy.promtool import run
from tests.deploy.reads import problems, recorded_series

RULES = ROOT / "deploy" / "prometheus" / "rules"
RULE_FILE = RULES / "ach-risk.rules.yml"
RULE_TESTS = RULES / "ach-risk.rules.test.yml"
RUNBOOK = ROOT / "docs" / "alerts.md"
SEVERITIES = {"critical", "warning"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULE_FILE)["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recording_rules() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in headings
    }


def test_promtool_finds_the_rules_valid() -> None:
    result = run("check", "rules", RULE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_expect() -> None:
    result = run("test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = load(RULE_TESTS)
    assert tests["rule_files"] == [RULE_FILE.name]
    cases = [case for test in tests["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    names = {alert["alert"] for alert in alerts()}
    assert names - fires == set(), "no case where these fire"
    assert names - quiet == set(), "no case where these stay quiet"
    assert (fires | quiet) - names == set(), "cases of alerts that do not exist"


def test_every_alert_is_labelled_described_and_has_a_runbook_entry() -> None:
    runbook = anchors(RUNBOOK.read_text())
    for alert in alerts():
        name = alert["alert"]
        assert re.fullmatch(r"AchRisk[A-Z][A-Za-z]+", name), name
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert (ROOT / page).resolve() == RUNBOOK, name
        assert anchor == name.lower(), name
        assert anchor in runbook, f"docs/alerts.md has no heading for {name}"


def test_recording_rules_are_named_by_the_convention() -> None:
    for name in recording_rules():
        assert re.fullmatch(r"achrisk:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_the_rules_read_only_what_the_service_exports(exported: Exported) -> None:
    recorded = recorded_series(recording_rules())
    found = {
        rule.get("alert") or rule["record"]: problems(rule["expr"], exported, recorded)
        for rule in rules()
    }
    assert {name: p for name, p in found.items() if p} == {}


def test_the_runbook_names_log_events_the_service_emits() -> None:
    sources = service_sources()
    named = set(re.findall(r"`([a-z]+\.[a-z_]+)`", RUNBOOK.read_text()))
    events = {n for n in named if not re.search(r"\.(md|ya?ml|json|py|toml)$", n)}
    assert len(events) >= 5, events
    missing = {event for event in events if f'"{event}"' not in sources}
    assert missing == set(), "events the service never logs"


def test_compose_prometheus_config_is_valid_with_the_rules(tmp_path: Path) -> None:
    config = load(COMPOSE / "prometheus.yml")
    (mounted,) = config["rule_files"]
    assert Path(mounted).name == RULE_FILE.name
    # promtool reads rule_files from the host: point it at the file compose mounts.
    config["rule_files"] = [str(RULE_FILE)]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))
    result = run("check", "config", copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("broken", ["missing_case", "wrong_threshold"])
def test_the_unit_tests_catch_a_broken_rule(broken: str, tmp_path: Path) -> None:
    """The rule tests would notice a change of behaviour: an alert that never fires, or
    one that fires on what must stay quiet."""
    text = RULE_FILE.read_text()
    if broken == "missing_case":
        changed = text.replace('up{job="ach-risk"} == 0', 'up{job="ach-risk"} == 2')
    else:
        changed = text.replace(
            "achrisk:grpc_server_errors:ratio_rate5m > 0.05",
            "achrisk:grpc_server_errors:ratio_rate5m > 0.01",
        )
    assert changed != text
    (tmp_path / RULE_FILE.name).write_text(changed)
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    result = run("test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        ("rate(achrisk_decision_total[5m])", "is not exported"),
        ('achrisk_decisions_total{rail="ACH"}', "matches no value"),
        (
            'achrisk:plaid_requests:rate5m{outcome=~"ok|SERVER_DOWN"}',
            "matches no value",
        ),
        ("sum by (endpoint) (rate(achrisk_decisions_total[5m]))", "by (endpoint)"),
        (
            'achrisk:grpc_server_errors:ratio_rate5m{grpc_code="OK"}',
            "no label grpc_code",
        ),
    ],
)
def test_the_check_rejects_what_the_service_does_not_export(
    exported: Exported, expr: str, complaint: str
) -> None:
    found = problems(expr, exported, recorded_series(recording_rules()))
    assert any(complaint in p for p in found), found
