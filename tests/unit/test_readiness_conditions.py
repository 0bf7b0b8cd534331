"""Readiness is SERVING only while every condition holds."""

from __future__ import annotations

from service.ops.readiness import Readiness


async def test_serving_needs_every_condition_and_reports_only_changes() -> None:
    told: list[bool] = []

    async def set_serving(serving: bool) -> None:
        told.append(serving)

    readiness = Readiness(set_serving)
    await readiness.set("ledger", True)  # already serving: nothing to say
    await readiness.set("plaid_credentials", False)
    await readiness.set("ledger", False)
    await readiness.set("plaid_credentials", True)  # the ledger still fails
    assert readiness.failing == {"ledger"}
    await readiness.set("ledger", True)

    assert told == [False, True]
    assert readiness.failing == frozenset()


async def test_each_condition_is_observed_from_the_start_and_on_every_check() -> None:
    async def set_serving(serving: bool) -> None:
        pass

    observed: list[tuple[str, bool]] = []
    readiness = Readiness(set_serving, observe=lambda c, ok: observed.append((c, ok)))
    assert observed == [("ledger", True), ("plaid_credentials", True)]
    await readiness.set("ledger", False)
    await readiness.set("ledger", False)  # every check, not only changes
    await readiness.set("ledger", True)
    assert observed[2:] == [("ledger", False), ("ledger", False), ("ledger", True)]
