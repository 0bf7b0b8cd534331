"""EvaluatePayment made idempotent by (caller, client_transaction_id), across replicas.

A repeat with the same payment gets the stored decision (`replayed`), a repeat with
another payment is refused, and concurrent duplicates share one Plaid call: in this
process through a shared future, across replicas through the store's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import replace

from service.app.clock import Clock, within
from service.app.decide import ANONYMOUS, Decider, PaymentRequest
from service.app.errors import DeadlineTooShort, IdempotencyKeyReused, PlaidFailure
from service.app.ports import BalanceFetch, ClaimState, DecisionLedger, PlaidAccount
from service.domain.freshness import RecentBalance, fetched_balance_time
from service.domain.model import SIGNAL_EVALUATE, Decision


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


# A replica that dies mid-evaluation holds its lease this long past the longest budget.
LEASE_MARGIN_S = 5.0
POLL_FIRST_S, POLL_MAX_S = 0.02, 0.25


def payment_fingerprint(request: PaymentRequest, key: bytes) -> str:
    """A keyed digest of what makes two requests the same payment (the token included)."""
    attempt = request.attempt
    fields: list[str | int | None] = [
        request.account.access_token.reveal(),
        request.account.account_id,
        attempt.amount.minor_units,
        attempt.amount.currency,
        attempt.rail.value,
        attempt.ruleset_key,
    ]
    return _keyed_digest(key, fields)


def balance_fingerprint(account: PlaidAccount, key: bytes) -> str:
    """A keyed digest of the account a balance belongs to (Item token and account_id):
    the ledger finds a recent live balance by it and never holds the token."""
    fields = ["balance", account.access_token.reveal(), account.account_id]
    return _keyed_digest(key, fields)


def _keyed_digest(key: bytes, fields: Sequence[str | int | None]) -> str:
    """HMAC-SHA256 of the fields as compact JSON: what the ledger stores instead of a
    token (changing the encoding would orphan every stored fingerprint)."""
    keyed = _KEYED.get(key)
    if keyed is None:
        keyed = _KEYED[key] = hmac.new(key, digestmod=hashlib.sha256)
    # A copy of the keyed state: hmac.digest() looked the digest up in OpenSSL 3 on
    # every call, ~20 us under load (docs/performance.md).
    mac = keyed.copy()
    mac.update(_CANONICAL.encode(fields).encode())
    return mac.hexdigest()


# json.dumps(fields, separators=(",", ":")) byte for byte, without a new encoder per call.
_CANONICAL = json.JSONEncoder(separators=(",", ":"))
# The keyed HMAC state per key (one key per process in practice).
_KEYED: dict[bytes, hmac.HMAC] = {}


class EvaluatePayment:
    """The EvaluatePayment use case: claim the payment in the ledger, let the Decider
    decide, store the decision before returning it; repeats are replayed."""

    def __init__(
        self,
        decider: Decider,
        store: DecisionLedger,
        fingerprint_key: bytes,
        owner: str,
        lease_s: float,
        clock: Clock,
    ) -> None:
        self._decider = decider
        self._store = store
        self._key = fingerprint_key
        self._owner = owner
        self._lease_s = lease_s + LEASE_MARGIN_S
        self._clock = clock
        self._in_flight: dict[tuple[str, str, str], asyncio.Task[Decision]] = {}

    async def evaluate(
        self, request: PaymentRequest, deadline: float | None, caller: str = ANONYMOUS
    ) -> Decision:
        """The decision for this payment: evaluated once, stored, then replayed."""
        fingerprint = payment_fingerprint(request, self._key)
        local = (caller, request.attempt.client_transaction_id, fingerprint)
        shared = self._in_flight.get(local)
        if (
            shared is not None
        ):  # a duplicate in this process: share the first one's call
            try:
                return replace(await asyncio.shield(shared), replayed=True)
            except (DeadlineTooShort, asyncio.CancelledError):
                if _cancelling():
                    raise  # this caller was cancelled, not the shared evaluation
                # The first caller's shorter deadline ended it: try on this one's own.
                return await self._claim_and_decide(
                    request, deadline, caller, fingerprint
                )
        # The evaluation belongs to no caller: one that goes away (cancelled, or out of
        # time) must not take the decision from duplicates waiting on it, nor leave a
        # Plaid answer unstored.
        task = asyncio.create_task(
            self._claim_and_decide(request, deadline, caller, fingerprint)
        )
        self._in_flight[local] = task
        task.add_done_callback(lambda done: self._forget(local, done))
        return await asyncio.shield(task)

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most timeout_s) for evaluations still running: at shutdown their
        callers are gone, but a Plaid answer must still reach the ledger before the
        store closes, or a retry would call Plaid again for the same payment."""
        running = set(self._in_flight.values())
        if running:
            # At the timeout only the waiting ends: the evaluations are not cancelled.
            with contextlib.suppress(TimeoutError):
                await within(self._clock, timeout_s, asyncio.wait(running))

    def _forget(
        self, local: tuple[str, str, str], task: asyncio.Task[Decision]
    ) -> None:
        if self._in_flight.get(local) is task:
            del self._in_flight[local]
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be awaiting it any more

    async def _claim_and_decide(
        self, request: PaymentRequest, deadline: float | None, caller: str, fp: str
    ) -> Decision:
        txid = request.attempt.client_transaction_id
        poll_s = POLL_FIRST_S
        while True:
            claim = await self._store.claim(
                caller, txid, fp, self._owner, self._lease_s, self._clock.now()
            )
            if claim.state is ClaimState.DONE and claim.decision is not None:
                return replace(claim.decision, replayed=True)
            if claim.state is ClaimState.CONFLICT:
                raise IdempotencyKeyReused(txid)
            if claim.state is ClaimState.NEW:
                if claim.taken_over:
                    # An earlier evaluation of this id never finished: Plaid may have
                    # seen it, so "already in use" would be no conflict of the caller's.
                    context = replace(request.context, id_sent_before=True)
                    request = replace(request, context=context)
                return await self._decide_and_store(request, deadline, caller)
            # Another replica is evaluating this payment: wait for its decision.
            left_s = None if deadline is None else deadline - self._clock.monotonic()
            if left_s is not None and left_s <= 0:
                raise DeadlineTooShort(
                    "the same payment is being evaluated by another replica"
                )
            # Sleep no longer than the deadline allows, then look once more.
            await self._clock.sleep(poll_s if left_s is None else min(poll_s, left_s))
            poll_s = min(poll_s * 2, POLL_MAX_S)

    async def _decide_and_store(
        self, request: PaymentRequest, deadline: float | None, caller: str
    ) -> Decision:
        txid = request.attempt.client_transaction_id
        try:
            recent = await self._recent_balance(request, caller)
            decision = await self._decider.evaluate(request, deadline, caller, recent)
        except BaseException as failure:
            # A failed evaluation is not a decision: a retry with this id may succeed.
            # If Plaid may have seen the id, the row stays (lease ended) to say so.
            if _plaid_saw_id(failure):
                forget = self._store.abandon(
                    caller, txid, self._owner, self._clock.now()
                )
            else:
                forget = self._store.release(caller, txid, self._owner)
            await asyncio.shield(forget)
            raise
        fetched_at = fetched_balance_time(decision)
        fetch = None
        if fetched_at is not None:
            fetch = BalanceFetch(
                balance_fingerprint(request.account, self._key), fetched_at
            )
        try:
            await self._store.complete(
                caller, txid, self._owner, decision, self._clock.now(), fetch
            )
        except Exception:
            await asyncio.shield(self._store.release(caller, txid, self._owner))
            raise
        return decision

    async def _recent_balance(
        self, request: PaymentRequest, caller: str
    ) -> RecentBalance | None:
        """ACCEPT_RECENT: this caller's newest live balance for the account fetched
        within the request's max_balance_age, if any (other callers' never)."""
        if not request.reuses_recent or request.max_balance_age is None:
            return None
        key = balance_fingerprint(request.account, self._key)
        since = self._clock.now() - request.max_balance_age
        found = await self._store.recent_balance(caller, key, since)
        if found is None:
            return None
        fetched_at = fetched_balance_time(found)
        if fetched_at is None or fetched_at < since:
            return None
        return RecentBalance(
            found.attempt.client_transaction_id, found.balance, fetched_at
        )


def _plaid_saw_id(failure: BaseException) -> bool:
    """Whether a failed evaluation sent its client_transaction_id to Plaid."""
    return isinstance(failure, PlaidFailure) and failure.reached(SIGNAL_EVALUATE)
