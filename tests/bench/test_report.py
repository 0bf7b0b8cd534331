"""The bench's report writer turns a ghz JSON result into valid JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.report import (
    ProcessUsage,
    RunResult,
    summarise,
    to_markdown,
    write_reports,
)

# The shape of `ghz -O json` (v0.121.0), trimmed to the fields the bench reads.
GHZ_RESULT = {
    "count": 1000,
    "total": 2_000_000_000,
    "average": 9_000_000,
    "rps": 500.25,
    "latencyDistribution": [
        {"percentage": 10, "latency": 4_000_000},
        {"percentage": 50, "latency": 8_500_000},
        {"percentage": 95, "latency": 15_000_000},
        {"percentage": 99, "latency": 21_250_000},
    ],
    "statusCodeDistribution": {"OK": 998, "Unavailable": 2},
}


def fake_run(ghz: dict[str, Any] = GHZ_RESULT) -> RunResult:
    return summarise(
        "ach-balance-rule",
        "throughput",
        "ghz --config bench/ghz/ach-balance-rule.json -c 50 127.0.0.1:50051",
        ghz,
        [ProcessUsage("service", 1.5, 120.0), ProcessUsage("ghz", 0.5, 60.0)],
    )


class TestSummarise:
    def test_reads_rate_percentiles_and_counts_every_non_ok_code_as_an_error(self):
        run = fake_run()
        assert (run.count, run.requests_per_s, run.errors) == (1000, 500.2, 2)
        assert (run.p50_ms, run.p95_ms, run.p99_ms) == (8.5, 15.0, 21.25)

    def test_a_result_without_latencies_has_no_percentiles(self):
        run = fake_run(
            {"count": 5, "rps": 1.0, "statusCodeDistribution": {"Unavailable": 5}}
        )
        assert run.errors == 5
        assert run.p99_ms != run.p99_ms  # NaN


class TestWriteReports:
    def test_writes_strict_json_markdown_and_latest(self, tmp_path: Path) -> None:
        verdicts = [
            {"target": "latency", "measured": "p99 4 ms", "goal": "≤ 5 ms", "met": True}
        ]
        runs = [fake_run(), fake_run({"count": 0, "rps": 0.0})]
        json_path, md_path = write_reports(
            tmp_path, "20260101T000000Z", {"mode": "quick"}, runs, verdicts
        )

        body = json.loads(json_path.read_text())  # strict: NaN became null
        assert body["runs"][0]["p99_ms"] == 21.25
        assert body["runs"][1]["p99_ms"] is None
        assert body["targets"] == verdicts
        assert (tmp_path / "latest.md").read_text() == md_path.read_text()

    def test_markdown_tables_have_as_many_cells_as_headers(self):
        markdown = to_markdown({}, [fake_run()], [])
        rows = [line for line in markdown.splitlines() if line.startswith("|")]
        widths = {line.count("|") for line in rows if "---" not in line}
        assert len(rows) >= 4
        assert widths == {5, 11}  # the targets table and the runs table
        assert (
            "| ach-balance-rule | throughput | 1000 | 500.2 | 8.5 | 15.0 | 21.2 | 2 |"
            in markdown
        )
