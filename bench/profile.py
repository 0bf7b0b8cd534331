"""Where a server's CPU goes under load: py-spy's collapsed stacks, summarised by layer.

`make bench` records one profile of the service and one of the forwarder (the floor),
each during its own untimed ghz run, and keeps the raw stacks (`--format raw`, which
speedscope and flamegraph.pl both read) beside a text summary: the share of samples
per layer, per module, and the top functions by own and by total share. The summary is
pure text processing, so tests feed it hand-written stacks.

Only stacks holding the GIL are sampled (`--gil`): a grpc.aio server is bound by one
thread of Python at a time, so that is the resource to divide. Without it, threads
parked in C (aiosqlite's and the executor's workers, the writer's fsync, gRPC's poller)
counted as busy and took a third of the samples while costing the event loop nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# ~1,000 samples in a 10 s run rank layers of 1%. Each sample pauses the process and
# costs py-spy CPU on the same 2 cores: 200 Hz cut the service's rate by more.
RATE_HZ = 100
EVENT_LOOP = "gRPC, event loop, threads"
OTHER = "other"
# A stack's samples go to the first of these a frame matches, walking from the leaf up;
# frames of the event loop are passed over, so asyncio code that the aiohttp client calls
# counts as the Plaid call, and only what nothing else claims counts as the loop itself.
# A pattern is a path prefix, or `path::function prefix` for a file of mixed layers.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("structlog/", "logging/", "service/ops/logs.py")),
    ("metrics", ("prometheus_client/", "service/ops/metrics.py")),
    (
        "ledger (SQLite writes)",
        (
            "sqlite3/",
            "service/adapters/store/",
            "bench/forwarder.py::RowWriter",
            "bench/forwarder.py::_settle",
        ),
    ),
    (
        "protobuf conversion",
        (
            "google/protobuf/",
            "service/_proto/",
            "service/api/convert.py",
            "service/api/convert_reports.py",
            "service/api/wire.py",
        ),
    ),
    (
        "Plaid call (aiohttp)",
        (
            "aiohttp/",
            "aiohappyeyeballs/",
            "yarl/",
            "multidict/",
            "tenacity/",
            "service/adapters/plaid/http.py",
            "service/adapters/plaid/retry.py",
        ),
    ),
    (
        "Plaid bodies (plaid-python models, parsing)",
        ("plaid/", "service/adapters/plaid/"),
    ),
    ("decision logic (app, domain)", ("service/app/", "service/domain/")),
    (
        "servicer, interceptors",
        ("service/api/", "bench/forwarder.py::Forwarder.evaluate"),
    ),
    (
        EVENT_LOOP,
        (
            "grpc/",
            "grpc_health/",
            "asyncio/",
            "selectors.py",
            "threading.py",
            "queue.py",
            "concurrent/",
        ),
    ),
)
GC_NOTE = (
    "Garbage collection has no frame of its own: py-spy (without --native, which costs"
    " far more and cannot name gRPC's Cython symbols) charges a collection to the"
    " Python frame whose allocation triggered it."
)


@dataclass(frozen=True, slots=True)
class Frame:
    function: str
    path: str

    @property
    def name(self) -> str:
        return f"{self.function} ({self.path})"


@dataclass(frozen=True, slots=True)
class Stack:
    thread: str
    frames: tuple[Frame, ...]  # root first, as py-spy writes them
    samples: int


@dataclass(slots=True)
class Summary:
    """Sample counts; every share is of `total` (the samples that held the GIL)."""

    total: int = 0
    layers: Counter[str] = field(default_factory=Counter)
    modules: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return 100 * count / self.total if self.total else 0.0


def parse_frame(text: str) -> Frame:
    """`function (path:line)` or `function (path)` (py-spy's `--nolineno`)."""
    function, sep, rest = text.rpartition(" (")
    if not sep or not rest.endswith(")"):
        return Frame(text, "")
    path = rest[:-1]
    head, colon, line = path.rpartition(":")
    if colon and line.isdigit():
        path = head
    return Frame(function, path)


def parse_raw(text: str) -> list[Stack]:
    """py-spy's `--format raw` (collapsed stacks: `a;b;c 12`), with or without the
    leading `thread (tid): name` frame that `--threads` adds."""
    stacks = []
    for line in text.splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        parts = body.split(";")
        thread = ""
        if parts[0].startswith("thread ("):
            thread = parts[0].split(": ", 1)[-1]
            parts = parts[1:]
        stacks.append(Stack(thread, tuple(parse_frame(p) for p in parts), int(count)))
    return stacks


def _matches(frame: Frame, pattern: str) -> bool:
    path, _, function = pattern.partition("::")
    if not frame.path.startswith(path):
        return False
    return not function or frame.function.startswith(function)


def layer_of(frame: Frame) -> str | None:
    for layer, patterns in LAYERS:
        if any(_matches(frame, p) for p in patterns):
            return layer
    return None


def stack_layer(frames: Sequence[Frame]) -> str:
    """The layer of the frame nearest the leaf that is not the event loop's."""
    seen_loop = False
    for frame in reversed(frames):
        layer = layer_of(frame)
        if layer == EVENT_LOOP:
            seen_loop = True
        elif layer is not None:
            return layer
    return EVENT_LOOP if seen_loop else OTHER


def module_of(frame: Frame) -> str:
    """A package (`aiohttp`), or a module of ours (`service/api/servicer.py`)."""
    if frame.path.startswith(("service/", "plaid_emulator/", "bench/")):
        return frame.path
    return frame.path.split("/", 1)[0] or frame.function


def summarise(stacks: Iterable[Stack]) -> Summary:
    summary = Summary()
    for stack in stacks:
        if not stack.frames:
            continue
        n = stack.samples
        summary.total += n
        summary.threads[stack.thread or "?"] += n
        summary.layers[stack_layer(stack.frames)] += n
        leaf = stack.frames[-1]
        summary.modules[module_of(leaf)] += n
        summary.own[leaf.name] += n
        for name in {f.name for f in stack.frames}:  # recursion counts once
            summary.inclusive[name] += n
    return summary


def top_layers(summary: Summary) -> list[tuple[str, float]]:
    """Every layer with its share of samples, largest first."""
    return [(k, summary.share(v)) for k, v in summary.layers.most_common()]


def render(
    summary: Summary,
    header: Sequence[str],
    instants: int = 0,
    calls: float = 0.0,
    top: int = 25,
) -> str:
    """The text summary saved beside the raw stacks; `instants` is how many times py-spy
    looked (seconds * rate), so that samples ÷ instants is how busy the GIL was, and
    `calls` how many RPCs were answered meanwhile, so that each layer gets a cost per
    call: the service's and the floor's, side by side, are the gap in milliseconds."""

    def table(title: str, counts: Counter[str], limit: int) -> list[str]:
        rows = [f"{summary.share(v):6.1f}%  {k}" for k, v in counts.most_common(limit)]
        return ["", title, "-" * len(title), *rows]

    held = (
        f" of {instants} looks: GIL held {summary.total / instants:.0%}"
        if instants
        else ""
    )
    lines = [*header, f"samples: {summary.total} holding the GIL{held}"]
    if not summary.total:
        return "\n".join([*lines, "", "no samples"]) + "\n"
    title = "by layer (stack charged to the frame nearest its leaf)"
    if calls > 0:
        title += "; GIL ms per call"
        per_call = 1000 / RATE_HZ / calls
        rows = [
            f"{summary.share(v):6.1f}%  {v * per_call:5.2f} ms  {k}"
            for k, v in summary.layers.most_common()
        ]
        total = f"{summary.total * per_call:5.2f} ms"
        lines += ["", title, "-" * len(title), *rows, f"{'':7}  {total}  in all"]
    else:
        lines += table(title, summary.layers, 20)
    lines += ["", GC_NOTE]
    lines += table("by thread holding the GIL", summary.threads, 10)
    lines += table("by module, own samples", summary.modules, 20)
    lines += table(f"top {top} functions, own samples", summary.own, top)
    lines += table(f"top {top} functions, total samples", summary.inclusive, top)
    return "\n".join(lines) + "\n"


def py_spy() -> str | None:
    """py-spy beside this Python (the dev extra installs it), or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def start_recording(
    executable: str, pid: int, seconds: int, out: Path
) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` for `seconds` into `out` (collapsed stacks of the thread
    holding the GIL, named)."""
    return subprocess.Popen(
        [
            executable,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(RATE_HZ),
            "--format",
            "raw",
            "--gil",
            "--threads",
            "--output",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
