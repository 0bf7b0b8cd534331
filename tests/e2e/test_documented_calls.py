"""The documented grpcurl EvaluatePayment calls work as pasted and print what they show.

Each ```sh block of the README or a docs/ page that calls EvaluatePayment runs through the
real grpcurl against a real service (only the address changes); the facts in the ```text
block after it (result, basis, attempted, fetched, warning codes) must be what the service
answered.
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

from tests import docs
from tests.conftest import Harness

ADDRESS = "127.0.0.1:50051"
_FACT = re.compile(r'"(result|basis|attempted|fetched|code)": ("[A-Z_]+"|true|false)')
GRPCURL = shutil.which(
    "grpcurl", path=str(Path(sys.executable).parent)
) or shutil.which("grpcurl")


def documented_calls() -> list[tuple[str, str, str]]:
    """(page, command, the output shown after it) for every EvaluatePayment example."""
    calls = []
    for page in docs.pages():
        for block, after in itertools.pairwise(docs.blocks(page)):
            if (
                block.language == "sh"
                and "grpcurl" in block.text
                and "RiskDecisionService/EvaluatePayment" in block.text
                and after.language == "text"
            ):
                calls.append((docs.name(page), block.text, after.text))
    return calls


CALLS = documented_calls()


def _transaction_id(command: str) -> str:
    """The call's client_transaction_id, as the test's id."""
    match = re.search(r'"client_transaction_id": "([^"]+)"', command)
    assert match is not None, command
    return match.group(1)


def test_the_readme_and_the_docs_show_calls() -> None:
    """The README's three calls and the pages that go on from them are all found."""
    pages = {page for page, _, _ in CALLS}
    assert {"README.md", "docs/calls.md", "docs/realtime-balance.md"} <= pages
    assert sum(page == "README.md" for page, _, _ in CALLS) == 3


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
    ("page", "command", "shown"),
    CALLS,
    ids=[f"{page}:{_transaction_id(command)}" for page, command, _ in CALLS],
)
async def test_the_call_prints_what_the_page_shows(
    harness: Harness, page: str, command: str, shown: str
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
    assert expected_flags, f"{page} shows no facts for this call"
    assert expected_flags <= flags
    assert codes == expected_codes
    assert answer["decision"]["client_transaction_id"] in command
