"""Cross-reference checks a scenario needs beyond its per-field schema.

Each problem names its path in the file, in the same notation as schema errors.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from plaid_emulator.attributes import BALANCE_ATTRIBUTES, DATETIME_ATTRIBUTES

if TYPE_CHECKING:
    from plaid_emulator.scenario import Ruleset, Scenario


def reference_problems(scenario: "Scenario") -> list[str]:
    """Every cross-reference problem in the scenario, or an empty list."""
    return [*_item_problems(scenario), *_ruleset_problems(scenario)]


def _item_problems(scenario: "Scenario") -> Iterator[str]:
    # Tokens are secrets even here, so a duplicate is named by its position only.
    first_with_token: dict[str, int] = {}
    for i, item in enumerate(scenario.items):
        if not item.accounts:
            yield f"items[{i}].accounts: an Item needs at least one account"
        earlier = first_with_token.setdefault(item.access_token, i)
        if earlier != i:
            yield f"items[{i}].access_token: duplicate of items[{earlier}].access_token"
        seen: dict[str, int] = {}
        for j, account in enumerate(item.accounts):
            first = seen.setdefault(account.account_id, j)
            where = f"items[{i}].accounts[{j}]"
            if first != j:
                yield (
                    f"{where}.account_id: duplicate account id "
                    f"{account.account_id!r} (also accounts[{first}])"
                )
            if account.is_cached_only and account.live_balance == "fails":
                yield (
                    f"{where}.live_balance: a cached-only account (one with "
                    "balance_last_updated) is never asked for a live balance"
                )


def _ruleset_problems(scenario: "Scenario") -> Iterator[str]:
    keys: dict[str, int] = {}
    for i, ruleset in enumerate(scenario.rulesets):
        first = keys.setdefault(ruleset.key, i)
        if first != i:
            yield f"rulesets[{i}].key: duplicate ruleset key {ruleset.key!r}"
        yield from _rule_problems(f"rulesets[{i}]", ruleset)
    default = scenario.default_ruleset
    if default is not None and default not in keys:
        yield f"default_ruleset: unknown ruleset {default!r}"


def _rule_problems(where: str, ruleset: "Ruleset") -> Iterator[str]:
    if not ruleset.rules:
        yield f"{where}.rules: a ruleset needs at least its fallback rule"
    last = len(ruleset.rules) - 1
    for r, rule in enumerate(ruleset.rules):
        at = f"{where}.rules[{r}].conditions"
        # Plaid requires a fallback; one in the middle would make later rules dead.
        if r == last and rule.conditions:
            yield f"{at}: the last rule must have no conditions (it is the fallback)"
        if r != last and not rule.conditions:
            yield f"{at}: only the last rule may have no conditions"
        for c, cond in enumerate(rule.conditions):
            attribute = f"{at}[{c}].attribute"
            if (
                ruleset.kind == "balance_only"
                and cond.attribute not in BALANCE_ATTRIBUTES
            ):
                yield (
                    f"{attribute}: a balance_only ruleset sees only "
                    f"{', '.join(sorted(BALANCE_ATTRIBUTES))}, not {cond.attribute!r}"
                )
            if cond.attribute in DATETIME_ATTRIBUTES and cond.operator != "is_null":
                yield f"{attribute}: {cond.attribute!r} can only be tested with is_null"
