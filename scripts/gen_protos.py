"""Generate service/_proto from protos/ (python, .pyi stubs, gRPC); `--check` fails on drift.

Also stages the googleapis protos we import into build/buf-deps for buf.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "service" / "_proto"
BUF_DEPS = ROOT / "build" / "buf-deps"
PROTOSET_NAME = "achrisk.protoset"
THIRD_PARTY = ("google/type/money.proto", "google/rpc/status.proto")
# protoc writes imports relative to the proto root; ours live under service._proto.
_IMPORT = re.compile(r"^from achrisk\.v1 import", re.MULTILINE)


def _package_root(module: str, depth: int) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{module} is not installed; run `make setup`")
    return Path(spec.origin).parents[depth]


def generate(dest: Path) -> None:
    googleapis = _package_root("google.type.money_pb2", 2)
    wkt = _package_root("grpc_tools", 0) / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{googleapis}",
        f"-I{wkt}",
        f"--python_out={dest}",
        f"--pyi_out={dest}",
        f"--grpc_python_out={dest}",
        # A self-contained descriptor set for ghz (its reflection client cannot resolve
        # method symbols against Python's reflection service).
        f"--descriptor_set_out={dest / PROTOSET_NAME}",
        "--include_imports",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in dest.rglob("*.py*"):
        text = _IMPORT.sub("from service._proto.achrisk.v1 import", path.read_text())
        path.write_text(text)
    for pkg in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        (pkg / "__init__.py").touch()
    BUF_DEPS.mkdir(parents=True, exist_ok=True)
    for rel in THIRD_PARTY:
        target = BUF_DEPS / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(googleapis / rel, target)


def _differences(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    found = [*cmp.left_only, *cmp.right_only, *cmp.diff_files]
    for sub in cmp.common_dirs:
        found += [f"{sub}/{d}" for d in _differences(a / sub, b / sub)]
    return [f for f in found if f != "__pycache__"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if out of date")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        if check:
            drift = _differences(Path(tmp), OUT) if OUT.exists() else ["service/_proto"]
            if drift:
                print("generated code drifted from protos/; run `make protos`:", drift)
                return 1
            return 0
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(tmp, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
