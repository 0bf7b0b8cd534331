"""The emulator's page, docs/emulator.md, works as written: its Python, its curl, its
examples.
"""

import asyncio
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from plaid_emulator import parse_scenario

PAGE = Path(__file__).parents[2] / "docs" / "emulator.md"
DOCUMENTED_URL = "http://127.0.0.1:8089"


def blocks(language: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    pattern = rf"^```{language}\n(.*?)^```$"
    return re.findall(pattern, PAGE.read_text(), flags=re.MULTILINE | re.DOTALL)


async def run(*argv: str, cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


class TestEmulatorPage:
    async def test_the_python_example_prints_what_the_page_says(
        self, emulator, tmp_path
    ):
        (snippet,) = blocks("python")
        (printed,) = blocks("text")
        assert DOCUMENTED_URL in snippet
        script = tmp_path / "example.py"
        script.write_text(snippet.replace(DOCUMENTED_URL, emulator.url))
        code, out = await run(sys.executable, str(script), cwd=tmp_path)
        assert code == 0
        assert out == printed

    @pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
    async def test_every_curl_command_succeeds_in_order(
        self, emulator, admin, tmp_path, default_scenario_data
    ):
        commands = [
            line
            for block in blocks("sh")
            for line in block.splitlines()
            if line.startswith("curl ")
        ]
        assert len(commands) >= 10
        (tmp_path / "scenario.json").write_text(json.dumps(default_scenario_data))
        for command in commands:
            argv = shlex.split(command.replace(DOCUMENTED_URL, emulator.url))
            code, out = await run(*argv, "--fail", cwd=tmp_path)
            assert code == 0, command
            json.loads(out)
        (evaluation,) = [c for c in await admin.calls() if c["status"] is not None]
        assert (evaluation["client_transaction_id"], evaluation["status"]) == (
            "curl-1",
            200,
        )

    def test_the_scenario_reference_is_a_valid_scenario(self):
        reference = next(b for b in blocks("yaml") if "rate_limits:" in b)
        scenario = parse_scenario(yaml.safe_load(reference))
        assert scenario.rate_limits.endpoints
        assert scenario.latency_ms
        assert set(scenario.ruleset_latency_ms) == {"balance_only", "transaction_score"}
        # Every knob of the scenario is in the reference.
        assert set(yaml.safe_load(reference)) == set(type(scenario).model_fields)

    async def test_the_call_log_example_has_exactly_the_real_keys(self, admin):
        (example,) = blocks("json")
        documented: dict[str, Any] = json.loads(example)
        await admin.post(
            "/signal/evaluate",
            {
                "access_token": "access-sandbox-checking-ok",
                "account_id": "checking-ok",
                "client_transaction_id": "t",
                "amount": 1.0,
            },
        )
        assert list(await admin.last_call()) == list(documented)
