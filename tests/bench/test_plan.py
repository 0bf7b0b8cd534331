"""The order of the bench's main-load runs: the service interleaved with the floor."""

from __future__ import annotations

import pytest

from bench.run import PHASES, interleaved


class TestInterleaved:
    def test_two_rounds_bracket_the_other_scenarios_abba(self):
        assert interleaved(2) == ["floor", "service", "others", "service", "floor"]

    @pytest.mark.parametrize("rounds", [1, 2, 3, 4])
    def test_each_side_runs_once_a_round_and_sits_as_early_on_average(
        self, rounds: int
    ) -> None:
        order = interleaved(rounds)
        assert order.count("others") == 1
        floor = [i for i, step in enumerate(order) if step == "floor"]
        service = [i for i, step in enumerate(order) if step == "service"]
        assert len(floor) == len(service) == rounds
        if rounds % 2 == 0:  # ABBA: no drift during the phase favours either
            assert sum(floor) == sum(service)


def test_phases_run_in_the_documented_order():
    assert list(PHASES) == ["throughput", "waiting", "workers"]
