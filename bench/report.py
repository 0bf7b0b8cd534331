"""Turn ghz JSON results and /proc samples into the bench's JSON and Markdown reports.

Pure functions over dicts, so tests can feed them a fake ghz result file. The service's
figures are set against the floor's (bench/forwarder.py: what any grpc.aio service that
calls Plaid once and writes one row must spend) and the bare echo's from the same run:
on shared cores only ratios within one run compare.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


NAN = float("nan")


def cpu_ms_per_call(runs: Sequence[RunResult], process: str) -> float:
    """CPU milliseconds of `process` (every process so named, or named `process1`,
    `process2`... when several serve one port) per request, over `runs`."""
    cpu = [p.cpu_s for r in runs for p in r.processes if _is(p.name, process)]
    calls = sum(r.count for r in runs)
    return round(1000 * sum(cpu) / calls, 3) if cpu and calls else NAN


def _is(name: str, process: str) -> bool:
    return name == process or (
        name.startswith(process) and name[len(process) :].isdigit()
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else NAN


def ratio(a: float, b: float) -> float:
    """a ÷ b to 3 decimals; NaN when b is not positive (a run that served nothing)."""
    return round(a / b, 3) if b > 0 else NAN


@dataclass(frozen=True, slots=True)
class Comparison:
    """The service's figures for one load beside the floor's and the echo's.

    Several runs of one kind (the interleaved runs at 50 in flight) are averaged: req/s
    and percentiles by their mean, CPU per call over all their requests."""

    name: str
    requests_per_s: float
    floor_requests_per_s: float
    echo_requests_per_s: float
    of_floor: float  # service req/s ÷ floor req/s
    of_echo: float  # service req/s ÷ echo req/s
    p50_ms: float
    p99_ms: float
    p50_minus_floor_ms: float
    p99_minus_floor_ms: float
    cpu_ms_per_call: float
    floor_cpu_ms_per_call: float
    echo_cpu_ms_per_call: float
    errors: int  # the service's and the floor's


def compare(
    name: str,
    service: Sequence[RunResult],
    floor: Sequence[RunResult],
    echo: RunResult | None = None,
    *,
    service_process: str = "service",
    floor_process: str = "forwarder",
    echo_process: str = "echo",
) -> Comparison:
    rps = _mean([r.requests_per_s for r in service])
    floor_rps = _mean([r.requests_per_s for r in floor])
    echo_rps = echo.requests_per_s if echo is not None else NAN
    p50, p99 = _mean([r.p50_ms for r in service]), _mean([r.p99_ms for r in service])
    floor_p50 = _mean([r.p50_ms for r in floor])
    floor_p99 = _mean([r.p99_ms for r in floor])
    return Comparison(
        name=name,
        requests_per_s=round(rps, 1),
        floor_requests_per_s=round(floor_rps, 1),
        echo_requests_per_s=echo_rps,
        of_floor=ratio(rps, floor_rps),
        of_echo=ratio(rps, echo_rps),
        p50_ms=round(p50, 2),
        p99_ms=round(p99, 2),
        p50_minus_floor_ms=round(p50 - floor_p50, 2),
        p99_minus_floor_ms=round(p99 - floor_p99, 2),
        cpu_ms_per_call=cpu_ms_per_call(service, service_process),
        floor_cpu_ms_per_call=cpu_ms_per_call(floor, floor_process),
        echo_cpu_ms_per_call=(
            cpu_ms_per_call([echo], echo_process) if echo is not None else NAN
        ),
        errors=sum(r.errors for r in (*service, *floor)),
    )


def to_json(
    meta: dict[str, Any],
    runs: list[RunResult],
    verdicts: list[dict[str, Any]],
    comparisons: Sequence[Comparison] = (),
) -> str:
    """The machine-readable report."""
    body = {
        "meta": meta,
        "runs": [asdict(r) for r in runs],
        "targets": verdicts,
        "comparisons": [asdict(c) for c in comparisons],
    }
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


def _fmt(value: float, spec: str = ",.1f") -> str:
    return "—" if value != value else format(value, spec)  # NaN check without math


def _signed(value: float) -> str:
    return _fmt(value, "+,.2f")


def _comparison_lines(comparisons: Sequence[Comparison]) -> list[str]:
    if not comparisons:
        return []
    lines = [
        "",
        "## Against the floor",
        "",
        "The floor is bench/forwarder.py on the same emulator with the same ghz flags:"
        " grpc.aio in, one `/signal/evaluate` through aiohttp, one group-committed SQLite"
        " row, a reply, nothing else. CPU per call is the process's CPU seconds ÷ requests.",
        "",
        "| load | service req/s | ÷ floor | ÷ echo | p50 ms (- floor) | p99 ms (- floor) "
        "| CPU ms/call: service / floor / echo |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.name} | {_fmt(c.requests_per_s)} (floor {_fmt(c.floor_requests_per_s)}, "
        f"echo {_fmt(c.echo_requests_per_s)}) | {_fmt(c.of_floor, '.0%')} "
        f"| {_fmt(c.of_echo, '.0%')} | {_fmt(c.p50_ms, '.2f')} ({_signed(c.p50_minus_floor_ms)}) "
        f"| {_fmt(c.p99_ms, '.2f')} ({_signed(c.p99_minus_floor_ms)}) "
        f"| {_fmt(c.cpu_ms_per_call, '.2f')} / {_fmt(c.floor_cpu_ms_per_call, '.2f')} "
        f"/ {_fmt(c.echo_cpu_ms_per_call, '.2f')} |"
        for c in comparisons
    ]
    return lines


def _profile_lines(profiles: Sequence[dict[str, Any]]) -> list[str]:
    if not profiles:
        return []
    lines = [
        "",
        "## Profiles",
        "",
        "py-spy during a separate run at the main load (not among the measured runs);"
        " the summary groups samples by layer, module and function, the stacks open in"
        " speedscope or flamegraph.pl.",
        "",
    ]
    for p in profiles:
        links = f"[summary]({p['summary']})"
        if p.get("stacks"):
            links += f", [stacks]({p['stacks']})"
        layers = ", ".join(
            f"{name} {share:.0f}%" for name, share in p.get("layers", [])[:5]
        )
        lines.append(f"- **{p['process']}**: {links}. {layers or p.get('note', '')}")
    return lines


def to_markdown(
    meta: dict[str, Any],
    runs: list[RunResult],
    verdicts: list[dict[str, Any]],
    comparisons: Sequence[Comparison] = (),
) -> str:
    """The human-readable report: targets, the service against the floor, the
    profiles, then every run with its processes."""
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
    lines += _comparison_lines(comparisons)
    lines += _profile_lines(meta.get("profiles") or [])
    lines += [
        "",
        "## Runs",
        "",
        "| run | target | requests | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| CPU s, ms/call (peak RSS MiB) | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        usage = ", ".join(
            f"{p.name} {p.cpu_s:.1f}, {_fmt(cpu_ms_per_call([r], p.name), '.2f')} "
            f"({p.peak_rss_mib:.0f})"
            for p in r.processes
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
    comparisons: Sequence[Comparison] = (),
) -> tuple[Path, Path]:
    """Write `<stamp>.json` and `<stamp>.md`, and copy the Markdown to `latest.md`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{stamp}.json"
    md_path = results_dir / f"{stamp}.md"
    markdown = to_markdown(meta, runs, verdicts, comparisons)
    json_path.write_text(to_json(meta, runs, verdicts, comparisons))
    md_path.write_text(markdown)
    (results_dir / "latest.md").write_text(markdown)
    return json_path, md_path
