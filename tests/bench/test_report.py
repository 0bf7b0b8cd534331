"""The bench's report writer turns a ghz JSON result into valid JSON and Markdown."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from bench.report import (
    ProcessUsage,
    RunResult,
    compare,
    cpu_ms_per_call,
    ratio,
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


def run_of(
    name: str,
    rps: float,
    p50: float,
    p99: float,
    count: int,
    usage: list[ProcessUsage],
    errors: int = 0,
) -> RunResult:
    return RunResult(
        name, "throughput", "ghz", count, rps, p50, p50, p99, errors, {}, usage
    )


SERVICE_RUNS = [
    run_of("s1", 300.0, 150.0, 260.0, 3000, [ProcessUsage("service", 9.0, 120.0)]),
    run_of("s2", 340.0, 140.0, 240.0, 3000, [ProcessUsage("service", 8.4, 125.0)]),
]
FLOOR_RUNS = [
    run_of("f1", 700.0, 70.0, 130.0, 7000, [ProcessUsage("forwarder", 8.4, 60.0)]),
    run_of("f2", 900.0, 50.0, 100.0, 9000, [ProcessUsage("forwarder", 9.2, 60.0)]),
]
ECHO_RUN = run_of("echo", 1600.0, 30.0, 60.0, 16000, [ProcessUsage("echo", 8.0, 40.0)])


class TestCpuPerCall:
    def test_is_the_processes_cpu_over_every_requests_of_the_runs_in_ms(self):
        assert cpu_ms_per_call(SERVICE_RUNS, "service") == 2.9  # 17.4 s / 6,000
        assert cpu_ms_per_call(FLOOR_RUNS, "forwarder") == 1.1  # 17.6 s / 16,000

    def test_numbered_replicas_on_one_port_add_up(self):
        run = run_of(
            "2 processes",
            500.0,
            1.0,
            2.0,
            1000,
            [
                ProcessUsage("service1", 1.0, 1.0),
                ProcessUsage("service2", 2.0, 1.0),
                ProcessUsage("services", 50.0, 1.0),  # another name entirely
            ],
        )
        assert cpu_ms_per_call([run], "service") == 3.0

    def test_an_absent_process_or_no_requests_has_no_figure(self):
        assert math.isnan(cpu_ms_per_call(SERVICE_RUNS, "echo"))
        empty = run_of("none", 0.0, 0.0, 0.0, 0, [ProcessUsage("service", 1.0, 1.0)])
        assert math.isnan(cpu_ms_per_call([empty], "service"))


class TestRatio:
    def test_rounds_to_three_places_and_has_no_figure_without_a_denominator(self):
        assert ratio(320.0, 800.0) == 0.4
        assert ratio(1.0, 3.0) == 0.333
        assert math.isnan(ratio(1.0, 0.0))
        assert math.isnan(ratio(1.0, float("nan")))


class TestCompare:
    def test_means_of_the_interleaved_runs_set_against_the_floor_and_echo(self):
        c = compare("ach-balance-rule, c=50", SERVICE_RUNS, FLOOR_RUNS, ECHO_RUN)

        assert (c.requests_per_s, c.floor_requests_per_s) == (320.0, 800.0)
        assert (c.of_floor, c.of_echo) == (0.4, 0.2)
        # p50 145 vs 60, p99 250 vs 115: differences in ms, not ratios.
        assert (c.p50_minus_floor_ms, c.p99_minus_floor_ms) == (85.0, 135.0)
        assert (c.cpu_ms_per_call, c.floor_cpu_ms_per_call) == (2.9, 1.1)
        assert c.echo_cpu_ms_per_call == 0.5
        assert c.errors == 0

    def test_errors_of_either_side_count_and_a_missing_echo_leaves_blanks(self):
        failing = [dataclasses.replace(FLOOR_RUNS[0], errors=3)]
        c = compare("latency", SERVICE_RUNS[:1], failing)

        assert c.errors == 3
        assert c.p99_minus_floor_ms == 130.0
        assert math.isnan(c.of_echo)
        assert math.isnan(c.echo_cpu_ms_per_call)

    def test_the_report_shows_it_as_a_row_and_keeps_it_in_the_json(
        self, tmp_path: Path
    ) -> None:
        c = compare("ach-balance-rule, c=50", SERVICE_RUNS, FLOOR_RUNS, ECHO_RUN)
        meta = {
            "profiles": [{"process": "service", "summary": "x-profile-service.txt"}]
        }
        json_path, md_path = write_reports(tmp_path, "x", meta, [fake_run()], [], [c])

        markdown = md_path.read_text()
        assert (
            "| ach-balance-rule, c=50 | 320.0 (floor 800.0, echo 1,600.0) | 40% | 20% "
            "| 145.00 (+85.00) | 250.00 (+135.00) | 2.90 / 1.10 / 0.50 |" in markdown
        )
        assert "[summary](x-profile-service.txt)" in markdown
        body = json.loads(json_path.read_text())
        assert body["comparisons"][0]["of_floor"] == 0.4
        assert body["meta"]["profiles"][0]["process"] == "service"

    def test_markdown_tables_keep_their_widths_with_comparisons(self):
        c = compare("latency", SERVICE_RUNS[:1], FLOOR_RUNS[:1])
        markdown = to_markdown({}, [fake_run()], [], [c])
        rows = [line for line in markdown.splitlines() if line.startswith("|")]
        widths = {line.count("|") for line in rows if "---" not in line}
        assert widths == {5, 8, 11}
        assert (
            "| — | — |" not in markdown.split("## Runs")[1]
        )  # blanks only in comparisons
