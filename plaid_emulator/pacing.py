"""How long a call waits before it is answered: the scenario's latency per endpoint,
or, for /signal/evaluate, per kind of ruleset the call will run."""

from plaid_emulator.access import ruleset_key_for
from plaid_emulator.endpoints import SIGNAL_EVALUATE
from plaid_emulator.latency import LatencySampler
from plaid_emulator.ledger import Ledger
from plaid_emulator.scenario import Scenario


class Pacer:
    """Delays for one scenario; the ledger tells a repeated transaction apart."""

    def __init__(self, scenario: Scenario, ledger: Ledger) -> None:
        self._scenario = scenario
        self._ledger = ledger
        self._endpoints = LatencySampler(scenario.latency_ms, scenario.seed)
        self._rulesets = LatencySampler(scenario.ruleset_latency_ms, scenario.seed)

    def delay_ms(self, endpoint: str, body: object) -> float:
        """The delay for the next call to `endpoint` with this decoded body."""
        kind = self._ruleset_kind(body) if endpoint == SIGNAL_EVALUATE else None
        if kind is not None and kind in self._rulesets:
            return self._rulesets.delay_ms(kind)
        return self._endpoints.delay_ms(endpoint)

    def _ruleset_kind(self, body: object) -> str | None:
        # Read before the call is processed, so only what is cheap: the ruleset it
        # names (or the default) and the ledger. None when no ruleset will run: no
        # or an unknown ruleset, or an id already evaluated (replayed or refused).
        if not isinstance(body, dict):
            return None
        transaction_id = body.get("client_transaction_id")
        if (
            isinstance(transaction_id, str)
            and self._ledger.get(transaction_id) is not None
        ):
            return None
        requested = body.get("ruleset_key")
        key = ruleset_key_for(
            self._scenario, requested if isinstance(requested, str) else None
        )
        ruleset = None if key is None else self._scenario.ruleset(key)
        return None if ruleset is None else ruleset.kind
