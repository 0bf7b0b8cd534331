"""Turn ghz JSON results and /proc samples into the bench's JSON and Markdown reports.

Pure functions over dicts, so tests can feed them a fake ghz result file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """CPU seconds spent during one run and peak RSS (VmHWM, since start) of a process."""

    name: str
    cpu_s: float
    peak_rss_mib: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """One bounded ghz run, summarised."""

    name: str
    target: str
    command: str
    count: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    status_codes: dict[str, int]
    processes: list[ProcessUsage] = field(default_factory=list)
    machine_busy_pct: float = 0.0  # all CPUs, every process on the machine included


def percentile_ms(ghz: dict[str, Any], percentage: int) -> float:
    """The ghz latency distribution's value at `percentage` (10..99), in ms."""
    for entry in ghz.get("latencyDistribution") or []:
        if int(entry["percentage"]) == percentage:
            return round(int(entry["latency"]) / NS_PER_MS, 2)
    return float("nan")


def summarise(
    name: str,
    target: str,
    command: str,
    ghz: dict[str, Any],
    processes: list[ProcessUsage],
    machine_busy_pct: float = 0.0,
) -> RunResult:
    """A RunResult from ghz's `-O json` output (`statusCodeDistribution`, `rps`, ...)."""
    codes = {
        str(k): int(v) for k, v in (ghz.get("statusCodeDistribution") or {}).items()
    }
    errors = sum(n for code, n in codes.items() if code != "OK")
    return RunResult(
        name=name,
        target=target,
        command=command,
        count=int(ghz.get("count", 0)),
        requests_per_s=round(float(ghz.get("rps", 0.0)), 1),
        p50_ms=percentile_ms(ghz, 50),
        p95_ms=percentile_ms(ghz, 95),
        p99_ms=percentile_ms(ghz, 99),
        errors=errors,
        status_codes=codes,
        processes=processes,
        machine_busy_pct=machine_busy_pct,
    )


def to_json(
    meta: dict[str, Any], runs: list[RunResult], verdicts: list[dict[str, Any]]
) -> str:
    """The machine-readable report."""
    body = {"meta": meta, "runs": [asdict(r) for r in runs], "targets": verdicts}
    return json.dumps(_no_nan(body), indent=2, allow_nan=False, default=str)


def _no_nan(value: Any) -> Any:
    """NaN (a percentile ghz did not report) becomes null: strict JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _fmt(value: float) -> str:
    return "—" if value != value else f"{value:,.1f}"  # NaN check without math


def to_markdown(
    meta: dict[str, Any], runs: list[RunResult], verdicts: list[dict[str, Any]]
) -> str:
    """The human-readable report: targets first, then every run with its processes."""
    lines = [
        f"# ach-risk bench, {meta.get('started', '?')}",
        "",
        f"Machine: {meta.get('cpus', '?')} CPUs; ghz {meta.get('ghz_version', '?')}; "
        f"mode: {meta.get('mode', '?')}; run id `{meta.get('run_id', '?')}`.",
        f"Plaid emulator: {meta.get('emulator', '?')}.",
        "",
        "## Targets",
        "",
        "| target | measured | goal | met |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {v['target']} | {v['measured']} | {v['goal']} | {'yes' if v['met'] else 'NO'} |"
        for v in verdicts
    ]
    lines += [
        "",
        "## Runs",
        "",
        "| run | target | requests | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| CPU s (peak RSS MiB) | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        usage = ", ".join(
            f"{p.name} {p.cpu_s:.1f} ({p.peak_rss_mib:.0f})" for p in r.processes
        )
        lines.append(
            f"| {r.name} | {r.target} | {r.count} | {_fmt(r.requests_per_s)} | "
            f"{_fmt(r.p50_ms)} | {_fmt(r.p95_ms)} | {_fmt(r.p99_ms)} | {r.errors} | {usage} "
            f"| {r.machine_busy_pct:.0f}% |"
        )
    lines += ["", "## Commands", ""]
    lines += [f"- **{r.name}**: `{r.command}`" for r in runs]
    return "\n".join(lines) + "\n"


def write_reports(
    results_dir: Path,
    stamp: str,
    meta: dict[str, Any],
    runs: list[RunResult],
    verdicts: list[dict[str, Any]],
) -> tuple[Path, Path]:
    """Write `<stamp>.json` and `<stamp>.md`, and copy the Markdown to `latest.md`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{stamp}.json"
    md_path = results_dir / f"{stamp}.md"
    markdown = to_markdown(meta, runs, verdicts)
    json_path.write_text(to_json(meta, runs, verdicts))
    md_path.write_text(markdown)
    (results_dir / "latest.md").write_text(markdown)
    return json_path, md_path
