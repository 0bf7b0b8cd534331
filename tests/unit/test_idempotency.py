"""Idempotency by (caller, client_transaction_id): replay, conflict, single flight."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.app.decide import Budgets, Decider, PaymentRequest
from service.app.errors import (
    DeadlineTooShort,
    FailureKind,
    IdempotencyKeyReused,
    PlaidFailure,
)
from service.app.evaluate import EvaluatePayment, _keyed_digest, payment_fingerprint
from service.app.ports import PlaidAccount, SignalContext
from service.config.policies import PolicySections
from service.domain.model import (
    AppliedRuleset,
    Balance,
    Basis,
    PaymentAttempt,
    PlaidCall,
    Rail,
    SignalAnswer,
)
from service.domain.money import Money
from service.domain.realtime import RulesetDeclaration, RulesetType
from service.domain.secret import Secret
from tests.clock import ManualClock
from tests.fakes import FakeSignalSource, InMemoryDecisionStore

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = b"test-key"


def answer() -> SignalAnswer:
    return SignalAnswer(
        request_id="r-1",
        ruleset=AppliedRuleset("balance-only", "ACCEPT"),
        scores=None,
        core_attributes=dict.fromkeys(("available_balance", "current_balance")),
        balance=Balance(Decimal(100), Decimal(110), "USD"),
        warnings=(),
        sent_at=NOW,
        received_at=NOW,
    )


def scripted(fake: FakeSignalSource, n: int = 1) -> None:
    call = PlaidCall("/signal/evaluate", "r-1", 200, None, 5)
    fake.signal.extend([(answer(), (call,))] * n)


class SlowSource(FakeSignalSource):
    """Holds every evaluation until released, to make duplicates truly concurrent."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.calls = 0

    async def evaluate_signal(
        self, *args: Any, **kwargs: Any
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return await super().evaluate_signal(*args, **kwargs)


def idempotent(
    fake: FakeSignalSource,
    store: InMemoryDecisionStore,
    owner: str = "me",
    clock: ManualClock | None = None,
) -> EvaluatePayment:
    clock = clock or ManualClock(NOW)
    policies = replace(
        PolicySections().policies(),
        rulesets={"balance-only": RulesetDeclaration(RulesetType.BALANCE_ONLY, True)},
    )
    evaluator = Decider(fake, policies, Budgets(10, 40, 5, 35), clock)
    return EvaluatePayment(evaluator, store, KEY, owner, 40, clock)


def request(
    cents: int = 5000, token: str = "access-a", txid: str = "tx-1"
) -> PaymentRequest:
    return PaymentRequest(
        PaymentAttempt(txid, Money(cents, "USD"), Rail.ACH_STANDARD, "balance-only"),
        PlaidAccount(Secret(token), "acc-1"),
        SignalContext(),
    )


class TestFingerprint:
    def test_the_same_payment_has_the_same_fingerprint(self) -> None:
        assert payment_fingerprint(request(), KEY) == payment_fingerprint(
            request(), KEY
        )

    @pytest.mark.parametrize("other", [request(cents=5001), request(token="access-b")])
    def test_a_different_amount_or_token_changes_it(
        self, other: PaymentRequest
    ) -> None:
        assert payment_fingerprint(request(), KEY) != payment_fingerprint(other, KEY)

    def test_it_never_contains_the_token(self) -> None:
        assert "access-a" not in payment_fingerprint(request(), KEY)

    def test_it_is_hmac_sha256_of_the_canonical_fields_so_ledgers_stay_valid(
        self,
    ) -> None:
        # Stored fingerprints must match across versions: a changed digest would turn
        # every retry of an already-decided payment into IDEMPOTENCY_KEY_REUSED.
        canonical = b'["access-a","acc-1",5000,"USD","ACH_STANDARD","balance-only"]'
        expected = hmac.new(KEY, canonical, hashlib.sha256).hexdigest()

        assert payment_fingerprint(request(), KEY) == expected

    @given(
        st.lists(st.none() | st.integers() | st.text(), max_size=8),
        st.binary(min_size=1, max_size=80),
    )
    def test_the_digest_is_the_one_json_dumps_and_hmac_digest_give(
        self, fields: list[str | int | None], key: bytes
    ) -> None:
        # The fast path (a copied keyed state, one shared encoder) must write what
        # the straightforward spelling writes, non-ASCII and control characters too.
        canonical = json.dumps(fields, separators=(",", ":")).encode()
        assert _keyed_digest(key, fields) == hmac.digest(key, canonical, "sha256").hex()


class TestReplay:
    async def test_a_repeat_is_replayed_from_the_store_without_plaid(self) -> None:
        fake, store = FakeSignalSource(), InMemoryDecisionStore()
        scripted(fake, 1)
        first = await idempotent(fake, store).evaluate(request(), None)
        second = await idempotent(fake, store).evaluate(request(), None)
        assert not first.replayed
        assert second.replayed
        assert second.realtime == first.realtime
        assert second.realtime.basis is Basis.RULESET_BALANCE_ONLY
        assert len(fake.budgets) == 1  # one Plaid call in all

    async def test_a_reused_id_with_another_payment_is_refused(self) -> None:
        fake, store = FakeSignalSource(), InMemoryDecisionStore()
        scripted(fake, 1)
        await idempotent(fake, store).evaluate(request(), None)
        with pytest.raises(IdempotencyKeyReused):
            await idempotent(fake, store).evaluate(request(cents=9999), None)

    async def test_an_id_belongs_to_the_first_caller(self) -> None:
        """Plaid keys ids per Plaid client: another caller's reuse is refused."""
        fake, store = FakeSignalSource(), InMemoryDecisionStore()
        scripted(fake, 2)
        service = idempotent(fake, store)
        await service.evaluate(request(), None, caller="a")
        with pytest.raises(IdempotencyKeyReused):
            await service.evaluate(request(), None, caller="b")
        assert len(fake.budgets) == 1

    async def test_a_failed_evaluation_is_not_stored(self) -> None:
        fake, store = FakeSignalSource(), InMemoryDecisionStore()
        fake.signal.append(
            PlaidFailure(FailureKind.UNAVAILABLE, "down", endpoint="/signal/evaluate")
        )
        scripted(fake, 1)
        service = idempotent(fake, store)
        with pytest.raises(PlaidFailure):
            await service.evaluate(request(), None)
        assert store.rows == {}
        decision = await service.evaluate(request(), None)
        assert not decision.replayed


class TestSingleFlight:
    async def test_concurrent_duplicates_make_one_plaid_call(self) -> None:
        fake, store = SlowSource(), InMemoryDecisionStore()
        scripted(fake, 1)
        service = idempotent(fake, store)
        calls = [
            asyncio.create_task(service.evaluate(request(), None)) for _ in range(20)
        ]
        await fake.started.wait()  # every duplicate has joined the first by then
        fake.release.set()
        decisions = await asyncio.gather(*calls)
        assert fake.calls == 1
        assert sum(not d.replayed for d in decisions) == 1
        assert len({d.realtime for d in decisions}) == 1

    async def test_the_first_callers_cancellation_does_not_reach_a_duplicate(
        self,
    ) -> None:
        fake, store = SlowSource(), InMemoryDecisionStore()
        scripted(fake, 1)
        service = idempotent(fake, store)
        first = asyncio.create_task(service.evaluate(request(), None))
        await fake.started.wait()
        second = asyncio.create_task(service.evaluate(request(), None))
        await asyncio.sleep(0)  # the duplicate joins the running evaluation
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        fake.release.set()
        decision = await second
        assert decision.replayed
        assert fake.calls == 1
        assert (await store.get("anonymous", "tx-1")) is not None  # stored all the same

    async def test_a_duplicate_waits_for_another_replicas_decision(self) -> None:
        fake, store, clock = SlowSource(), InMemoryDecisionStore(), ManualClock()
        scripted(fake, 1)
        first = asyncio.create_task(
            idempotent(fake, store, "replica-1", clock).evaluate(request(), None)
        )
        await fake.started.wait()
        second = asyncio.create_task(
            idempotent(FakeSignalSource(), store, "replica-2", clock).evaluate(
                request(), None
            )
        )
        # It polls the store, not Plaid, looking again sooner at first, then less often.
        for wait_s in (0.02, 0.04, 0.08, 0.16, 0.25, 0.25):
            await clock.sleeping()
            assert clock.pending == [pytest.approx(wait_s)]
            clock.advance(wait_s)
        await clock.sleeping()
        assert not second.done()
        fake.release.set()
        assert not (await first).replayed
        clock.advance(0.25)
        assert (await asyncio.wait_for(second, 5)).replayed

    async def test_waiting_for_another_replica_respects_the_deadline(self) -> None:
        fake, store, clock = SlowSource(), InMemoryDecisionStore(), ManualClock()
        scripted(fake, 1)
        first = asyncio.create_task(
            idempotent(fake, store, "replica-1", clock).evaluate(request(), None)
        )
        await fake.started.wait()
        started = clock.monotonic()
        second = asyncio.create_task(
            idempotent(FakeSignalSource(), store, "replica-2", clock).evaluate(
                request(), started + 0.1
            )
        )
        waits = await clock.run(second)
        # The last wait is cut short by the deadline, and no look comes after it.
        assert waits == [pytest.approx(w) for w in (0.02, 0.04, 0.04)]
        with pytest.raises(DeadlineTooShort):
            await second
        assert clock.monotonic() == pytest.approx(started + 0.1)
        fake.release.set()
        await first


class TestDrain:
    async def test_shutdown_waits_for_a_running_evaluation_to_be_stored(self) -> None:
        fake, store, clock = SlowSource(), InMemoryDecisionStore(), ManualClock()
        scripted(fake, 1)
        evaluator = idempotent(fake, store, clock=clock)
        caller = asyncio.create_task(evaluator.evaluate(request(), None))
        await fake.started.wait()
        caller.cancel()  # the server cancels its handlers at shutdown

        draining = asyncio.create_task(evaluator.drain(5))
        await clock.sleeping()
        clock.advance(4.9)
        await asyncio.sleep(0)
        assert not draining.done()  # Plaid has not answered yet
        fake.release.set()
        await asyncio.wait_for(draining, 5)

        assert (await store.get("anonymous", "tx-1")) is not None

    async def test_it_gives_up_after_its_timeout(self) -> None:
        fake, store, clock = SlowSource(), InMemoryDecisionStore(), ManualClock()
        scripted(fake, 1)
        evaluator = idempotent(fake, store, clock=clock)
        caller = asyncio.create_task(evaluator.evaluate(request(), None))
        await fake.started.wait()

        draining = asyncio.create_task(evaluator.drain(0.05))
        await clock.sleeping()
        assert clock.pending == [pytest.approx(0.05)]
        clock.advance(0.05)
        await asyncio.wait_for(draining, 5)  # returns while Plaid is still silent

        assert not caller.done()  # the evaluation itself goes on
        fake.release.set()
        await caller
