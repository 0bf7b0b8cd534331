"""Decisions stored by earlier versions still load, and say no more than they knew."""

from __future__ import annotations

import json

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.adapters.store.records import decision_from_json, decision_to_json
from service.api.convert import decision_pb
from service.domain.model import Basis
from tests.store.examples import decision


def stored_before_ruleset_types() -> str:
    """A decision as stored before `attempted`, `core_attributes` and risk tiers
    became optional: the old basis, both tiers, neither new key."""
    data = json.loads(decision_to_json(decision()))
    del data["core_attributes"]
    del data["realtime"]["attempted"]
    data["realtime"]["basis"] = "RULESET_HAS_BALANCE_RULE"
    return json.dumps(data)


class TestStoredBeforeRulesetTypes:
    def test_loads_with_the_basis_it_was_decided_on(self):
        old = decision_from_json(stored_before_ruleset_types())
        assert old.realtime.basis is Basis.RULESET_HAS_BALANCE_RULE
        assert old.core_attributes == {}
        assert old.scores is not None
        assert (old.scores.customer_tier, old.scores.bank_tier) == (4, 2)

    def test_a_fetch_stored_then_reads_back_as_attempted(self):
        reply = decision_pb(decision_from_json(stored_before_ruleset_types()))
        realtime = reply.realtime_balance
        assert realtime.basis == pb.REALTIME_BALANCE_BASIS_RULESET_HAS_BALANCE_RULE
        assert (realtime.attempted, realtime.fetched) == (True, True)
        assert not reply.HasField("core_attributes")

    def test_a_new_decision_round_trips_its_core_attributes_exactly(self):
        new = decision()
        assert decision_from_json(decision_to_json(new)) == new
        reply = decision_pb(new)
        assert dict(reply.core_attributes) == {
            "available_balance": 1234.56,
            "balance_last_updated": "2025-03-01T11:59:58Z",
            "is_account_closed": False,
            "days_since_first_plaid_connection": 412,
            "p50_eod_balance_30d": None,
        }
