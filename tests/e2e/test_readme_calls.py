"""The README's grpcurl EvaluatePayment calls work as pasted and print what it shows.

Each ```sh block that calls EvaluatePayment runs through the real grpcurl against a real
service (only the address changes); the facts in the ```text block after it (result,
basis, attempted, fetched, warning codes) must be what the service answered.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness

README = Path(__file__).parents[2] / "README.md"
ADDRESS = "127.0.0.1:50051"
_BLOCK = re.compile(r"```(sh|text)\n(.*?)```", re.DOTALL)
_FACT = re.compile(r'"(result|basis|attempted|fetched|code)": ("[A-Z_]+"|true|false)')
GRPCURL = shutil.which(
    "grpcurl", path=str(Path(sys.executable).parent)
) or shutil.which("grpcurl")


def documented_calls() -> list[tuple[str, str]]:
    """(command, the output shown after it) for every EvaluatePayment example."""
    blocks = _BLOCK.findall(README.read_text())
    calls = []
    for (kind, body), (next_kind, shown) in itertools.pairwise(blocks):
        if kind == "sh" and "EvaluatePayment" in body and next_kind == "text":
            calls.append((body, shown))
    return calls


def shown_facts(text: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The result, basis and flags a reader sees, and the real-time warning codes."""
    head, _, realtime = text.partition('"realtime_balance"')
    flags = {(k, v.strip('"')) for k, v in _FACT.findall(head) if k == "result"}
    codes = []
    for k, v in _FACT.findall(realtime):
        if k == "code":
            codes.append(v.strip('"'))
        else:
            flags.add((k, v.strip('"')))
    return flags, codes


def shown_error(status: dict[str, Any]) -> tuple[int, list[tuple[str, Any]]]:
    """The gRPC code and each ErrorInfo's reason and metadata (the RetryInfo delay and
    the message's seconds vary with the moment of the call)."""
    infos = [
        (d["reason"], d["metadata"])
        for d in status["details"]
        if d["@type"].endswith("google.rpc.ErrorInfo")
    ]
    return status["code"], infos


def answered_facts(answer: dict[str, Any]) -> tuple[set[tuple[str, str]], list[str]]:
    """The same facts from the service's JSON answer."""
    decision = answer["decision"]
    realtime = decision["realtime_balance"]
    flags = {("result", decision["result"]), ("basis", realtime["basis"])}
    for name in ("fetched", "attempted"):
        flags.add((name, str(realtime.get(name, False)).lower()))
    return flags, [w["code"] for w in realtime.get("warnings", [])]


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl is installed by `make setup`")
@pytest.mark.parametrize(
    ("command", "shown"),
    documented_calls(),
    ids=[
        re.findall(r'"client_transaction_id": "([^"]+)"', c)[0]
        for c, _ in documented_calls()
    ],
)
async def test_the_call_prints_what_the_readme_shows(
    harness: Harness, command: str, shown: str
) -> None:
    port = harness.service.port
    script = command.replace(ADDRESS, f"127.0.0.1:{port}")
    env = {**os.environ, "PATH": f"{Path(GRPCURL or '').parent}:{os.environ['PATH']}"}
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    if '"details"' in shown:  # an error example: the status grpcurl prints
        assert process.returncode != 0, out.decode()
        printed = json.loads(out or err)  # grpcurl prints the status on stderr
        assert shown_error(printed) == shown_error(json.loads(shown))
        return
    assert process.returncode == 0, err.decode()
    answer = json.loads(out)
    expected_flags, expected_codes = shown_facts(shown)
    flags, codes = answered_facts(answer)
    assert expected_flags, "the README shows no facts for this call"
    assert expected_flags <= flags
    assert codes == expected_codes
    assert answer["decision"]["client_transaction_id"] in command
