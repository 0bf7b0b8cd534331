"""The unit tests' InMemoryDecisionStore answers as both databases do, step by step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from service.adapters.store.sql import open_store
from service.app.ports import ClaimNotHeld, DecisionLedger, ReportInbox
from tests.fakes import InMemoryDecisionStore
from tests.store.examples import LEASE_S, decision, later


class Ledger(DecisionLedger, ReportInbox, Protocol):
    """What the unit tests use the fake for."""


@dataclass(frozen=True)
class Step:
    """One call on the store; `at` is seconds after examples.NOW."""

    op: str  # claim, complete, release, abandon or get
    owner: str = "replica-a"
    at: float = 0
    fingerprint: str = "fp-1"
    caller: str = "acme"


async def outcome(store: Ledger, step: Step) -> str:
    """What the store answered, in a word or two."""
    txid, now = "txn-1", later(step.at)
    if step.op == "claim":
        found = await store.claim(
            step.caller, txid, step.fingerprint, step.owner, LEASE_S, now
        )
        if found.decision is not None and found.decision != decision():
            return "DONE with a changed decision"
        return found.state.value + (" taken over" if found.taken_over else "")
    if step.op == "complete":
        try:
            await store.complete(step.caller, txid, step.owner, decision(), now)
        except ClaimNotHeld:
            return "not held"
        return "done"
    if step.op == "release":
        await store.release(step.caller, txid, step.owner)
        return "-"
    if step.op == "abandon":
        await store.abandon(step.caller, txid, step.owner, now)
        return "-"
    stored = await store.get(step.caller, txid)
    if stored is None:
        return "none"
    return "stored" if stored.decision == decision() else "stored, changed"


A, B, C = "replica-a", "replica-b", "replica-c"
CLAIM, COMPLETE, RELEASE = Step("claim"), Step("complete"), Step("release")
SCENARIOS: dict[str, list[tuple[Step, str]]] = {
    "a first claim is new": [(CLAIM, "NEW")],
    "a decision is replayed, exactly": [
        (CLAIM, "NEW"),
        (COMPLETE, "done"),
        (Step("claim", B, at=3600), "DONE"),
        (Step("get"), "stored"),
    ],
    "another payment under the id": [
        (CLAIM, "NEW"),
        (Step("claim", B, fingerprint="fp-2"), "CONFLICT"),
        (COMPLETE, "done"),
        (Step("claim", fingerprint="fp-2"), "CONFLICT"),
    ],
    "leases": [
        (CLAIM, "NEW"),
        (Step("claim", B, at=LEASE_S - 1), "IN_FLIGHT"),
        (Step("claim", B, at=LEASE_S), "NEW taken over"),
        (Step("claim", C, at=LEASE_S), "IN_FLIGHT"),
        (COMPLETE, "not held"),
        (Step("complete", B, at=LEASE_S), "done"),
    ],
    "the owner renews its lease": [
        (CLAIM, "NEW"),
        (Step("claim", at=LEASE_S - 1), "NEW taken over"),
        (Step("claim", B, at=LEASE_S + 1), "IN_FLIGHT"),
    ],
    "complete needs the claim, once": [
        (COMPLETE, "not held"),
        (CLAIM, "NEW"),
        (Step("complete", at=3600), "done"),
        (COMPLETE, "not held"),
        (Step("get"), "stored"),
    ],
    "release": [
        (CLAIM, "NEW"),
        (Step("get"), "none"),
        (Step("release", B), "-"),
        (Step("claim", B), "IN_FLIGHT"),
        (RELEASE, "-"),
        (Step("claim", B), "NEW"),
        (Step("complete", B), "done"),
        (Step("release", B), "-"),
        (Step("get"), "stored"),
    ],
    "abandon": [
        (CLAIM, "NEW"),
        (Step("abandon", B, at=1), "-"),
        (Step("claim", B, at=2), "IN_FLIGHT"),
        (Step("abandon", at=1), "-"),
        (Step("claim", C, at=2, fingerprint="fp-2"), "CONFLICT"),
        (Step("claim", B, at=2), "NEW taken over"),
        (Step("complete", B, at=2), "done"),
        (Step("abandon", B, at=3), "-"),
        (Step("claim", C, at=4), "DONE"),
    ],
    "one caller per id": [
        (CLAIM, "NEW"),
        (Step("claim", B, caller="intruder"), "CONFLICT"),
        (Step("complete", caller="intruder"), "not held"),
        (COMPLETE, "done"),
        (Step("claim", caller="intruder"), "CONFLICT"),
        (Step("get", caller="intruder"), "none"),
    ],
    "a refused caller leaves no row": [
        (CLAIM, "NEW"),
        (Step("claim", caller="intruder"), "CONFLICT"),
        (RELEASE, "-"),
        (Step("claim", caller="intruder"), "NEW"),
    ],
}


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
async def ledger(request: pytest.FixtureRequest) -> AsyncIterator[Ledger]:
    if request.param == "fake":
        yield InMemoryDecisionStore()
        return
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    store = await open_store(url)
    yield store
    await store.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_each_step_answers_as_the_table_says(
    ledger: Ledger, scenario: str
) -> None:
    steps = SCENARIOS[scenario]

    answers = [await outcome(ledger, step) for step, _ in steps]

    assert answers == [expected for _, expected in steps]
