"""tests/fixtures/plaid is what scripts/plaid_examples.py makes of the vendored spec."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.contract import documented

ROOT = Path(__file__).parents[2]
GENERATOR_PATH = ROOT / "scripts" / "plaid_examples.py"
SPEC_PATH = ROOT / "tests" / "fixtures" / "plaid-openapi-2020-09-14.yml.gz"
REQUIRED_ERROR_KEYS = (
    "error_type",
    "error_code",
    "error_message",
    "display_message",
    "request_id",
)
EXAMPLES = documented.manifest()["examples"]


def _import_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plaid_examples", GENERATOR_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _import_generator()


@pytest.fixture(scope="module")
def plaid_spec(generator: ModuleType) -> Any:
    """The vendored spec, loaded once (about 1.5 s of YAML)."""
    return generator.load_spec(SPEC_PATH)


def test_the_fixtures_are_what_the_generator_makes_of_the_spec(
    generator: ModuleType, plaid_spec: Any
) -> None:
    drift = generator.check(plaid_spec, documented.FIXTURES)
    assert drift == [], "run `make plaid-examples`"


def test_the_check_names_missing_differing_and_extra_files(
    generator: ModuleType, plaid_spec: Any, tmp_path: Path
) -> None:
    out = tmp_path / "plaid"
    shutil.copytree(documented.FIXTURES, out)
    (out / "errors.json").unlink()
    (out / "MANIFEST.json").write_text("{}\n")
    (out / "stale.json").write_text("{}\n")
    assert generator.check(plaid_spec, out) == [
        "missing: errors.json",
        "differs: MANIFEST.json",
        "extra: stale.json",
    ]


def test_the_manifest_names_the_vendored_spec(plaid_spec: Any) -> None:
    digest = hashlib.sha256(gzip.decompress(SPEC_PATH.read_bytes())).hexdigest()
    spec = documented.manifest()["spec"]
    assert spec["sha256"] == digest
    assert spec["version"] == plaid_spec.document["info"]["version"]
    assert spec["path"] == str(SPEC_PATH.relative_to(ROOT))


def test_the_manifest_lists_every_file_but_itself() -> None:
    on_disk = {p.name for p in documented.FIXTURES.iterdir()} - {"MANIFEST.json"}
    assert sorted(on_disk) == documented.manifest()["files"]


@pytest.mark.parametrize("entry", EXAMPLES, ids=[e["file"] for e in EXAMPLES])
def test_each_example_is_the_documented_body_and_meets_its_schema(
    entry: dict[str, Any], plaid_spec: Any
) -> None:
    loaded = dict(
        documented.response_examples(entry["endpoint"])
        if entry["kind"] == "response"
        else documented.request_examples(entry["endpoint"])
    )
    body = loaded[entry["name"]]
    assert body == plaid_spec.resolve(entry["source"])
    # Only what the generator's KNOWN_SCHEMA_DEVIATIONS allows (missing `risk_tier`).
    assert plaid_spec.errors(entry["schema"], body) == entry["schema_deviations"]


@pytest.mark.parametrize("endpoint", documented.ENDPOINTS)
def test_each_endpoint_has_a_documented_response(endpoint: str) -> None:
    names = [name for name, _ in documented.response_examples(endpoint)]
    assert "example-1" in names


def test_only_the_balance_request_is_documented() -> None:
    with_requests = [e for e in documented.ENDPOINTS if documented.request_examples(e)]
    assert with_requests == ["/accounts/balance/get"]


def test_the_signal_evaluate_example_lacks_only_risk_tiers() -> None:
    deviations = documented.schema_deviations(
        "/signal/evaluate", "response", "example-1"
    )
    assert all("'risk_tier' is a required property" in d for d in deviations)
    assert len(deviations) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    documented.error_bodies(),
    ids=[body["error_code"] for _, body in documented.error_bodies()],
)
def test_each_error_body_is_a_plaid_error(
    status: int, body: dict[str, Any], plaid_spec: Any
) -> None:
    assert all(key in body for key in REQUIRED_ERROR_KEYS)
    assert plaid_spec.errors("/components/schemas/PlaidError", body) == []
    assert re.fullmatch(r"[A-Za-z0-9]{15}", body["request_id"])
    assert body["documentation_url"].startswith("https://plaid.com/docs/errors/")
    assert status in {400, 403, 429, 500, 503}


def test_error_codes_are_unique_and_request_ids_distinct() -> None:
    bodies = [body for _, body in documented.error_bodies()]
    assert len({b["error_code"] for b in bodies}) == len(bodies) == 32
    assert len({b["request_id"] for b in bodies}) == len(bodies)


def test_errors_are_filtered_by_the_endpoints_that_document_them() -> None:
    def codes(endpoint: str) -> set[str]:
        return {b["error_code"] for _, b in documented.error_bodies(endpoint)}

    balance_only = {
        "BALANCE_LIMIT",
        "ACCOUNTS_BALANCE_GET_LIMIT",
        "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
    }
    signal_only = {
        b["error_code"]
        for _, b in documented.error_bodies()
        if b["error_type"] == "SIGNAL_ERROR"
    }
    assert balance_only <= codes("/accounts/balance/get")
    assert not signal_only & codes("/accounts/balance/get")
    for endpoint in documented.ENDPOINTS:
        if endpoint != "/accounts/balance/get":
            assert signal_only <= codes(endpoint)
            assert not balance_only & codes(endpoint)
        assert {"INTERNAL_SERVER_ERROR", "ITEM_LOGIN_REQUIRED"} <= codes(endpoint)
    with pytest.raises(ValueError, match="no documented errors"):
        documented.error_bodies("/accounts/get")


def test_the_out_of_range_error_names_an_iso_8601_balance_time() -> None:
    [(status, body)] = [
        (s, b)
        for s, b in documented.error_bodies("/accounts/balance/get")
        if b["error_code"] == "LAST_UPDATED_DATETIME_OUT_OF_RANGE"
    ]
    assert (status, body["error_type"]) == (400, "INVALID_RESULT")
    found = re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["error_message"])
    assert found
    assert datetime.fromisoformat(found.group(0)).tzinfo is not None


def test_loaded_bodies_are_fresh_copies() -> None:
    [(_, first)] = documented.response_examples("/signal/prepare")
    first["request_id"] = "changed"
    [(_, second)] = documented.response_examples("/signal/prepare")
    assert second["request_id"] != "changed"
