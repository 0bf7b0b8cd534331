"""Write or check requirements/*.lock: the runtime and build dependencies, pinned with hashes.

    python scripts/lock.py            follow pyproject.toml, keeping every pin it still allows
    python scripts/lock.py --upgrade  re-resolve to the newest versions pyproject.toml allows
    python scripts/lock.py --check    fail if a lock no longer satisfies pyproject.toml

The image installs the lock with `pip install --require-hashes` (Dockerfile), and every
virtualenv the Makefile builds is constrained to it, so the versions the tests ran are the
versions that ship. The resolution is universal (markers instead of this machine's platform),
so the lock serves an arm64 image as well as amd64. uv resolves: it is fast, and it records
the hash of every file of each pinned release, not only the one this machine would pick.

requirements/build.lock pins what builds the wheel (pyproject.toml's [build-system] requires),
which the image installs the same way before `pip wheel --no-build-isolation`.

The check re-resolves with the lock as the preferred versions (no upgrade): a lock that still
satisfies pyproject.toml comes back byte for byte. A dependency added, dropped or re-bounded in
pyproject.toml changes the output, and the check says how.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"
# The image runs CPython 3.11 (Dockerfile); requires-python allows newer, which the markers cover.
PYTHON_VERSION = "3.11"
# The extras the image installs besides the runtime: tracing (docs/tracing.md).
EXTRAS: tuple[str, ...] = ("otel",)


def compile_lock(lock: Path, output: Path, *, upgrade: bool) -> None:
    """Resolve `lock`'s inputs into `output` (which, if it exists, gives preferred pins)."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        sys.exit("uv is not installed: `make setup` installs it (the dev extra)")
    command = [
        uv, "pip", "compile",
        "--universal", "--python-version", PYTHON_VERSION, "--generate-hashes",
        "--custom-compile-command", "make lock",
        "--quiet", "--output-file", str(output),
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    if lock == BUILD_LOCK:
        requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
        inputs = "".join(f"{r}\n" for r in requires["requires"])
        command.append("-")
    else:
        inputs = None
        command.append("pyproject.toml")
        for extra in EXTRAS:
            command += ["--extra", extra]
    # The command is ours: uv, fixed arguments and this repository's files.
    subprocess.run(command, cwd=ROOT, check=True, input=inputs, text=True)  # noqa: S603


def stale(lock: Path) -> list[str]:
    """The diff between `lock` and its re-resolution within its own pins (empty: fresh)."""
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / lock.name
        shutil.copyfile(lock, candidate)
        compile_lock(lock, candidate, upgrade=False)
        want, have = candidate.read_text(), lock.read_text()
    name = str(lock.relative_to(ROOT))
    return list(
        difflib.unified_diff(
            have.splitlines(keepends=True),
            want.splitlines(keepends=True),
            name,
            "re-resolved from pyproject.toml",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument(
        "--upgrade", action="store_true", help="newest allowed versions"
    )
    args = parser.parse_args()
    locks = (RUNTIME_LOCK, BUILD_LOCK)
    if not args.check:
        for lock in locks:
            compile_lock(lock, lock, upgrade=args.upgrade)
        return 0
    failed = 0
    for lock in locks:
        if diff := stale(lock):
            sys.stdout.writelines(diff)
            print(
                f"{lock.relative_to(ROOT)} is stale: run `make lock` and commit it",
                file=sys.stderr,
            )
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
