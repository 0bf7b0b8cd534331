"""The emulator's scenario: Items, accounts, rulesets, latency and limits, from YAML or JSON.

Bad input raises ScenarioError naming the file, the path inside it and the field.
"""

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Final, Literal

import orjson
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from plaid_emulator.attributes import CONDITION_ATTRIBUTES
from plaid_emulator.endpoints import Endpoint
from plaid_emulator.latency import Latency
from plaid_emulator.limits import RateLimits
from plaid_emulator.problems import problems
from plaid_emulator.scenario_checks import reference_problems

_RELATIVE_AGE = re.compile(r"-(\d+)([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the source, path and field."""


def _parse_balance_time(raw: object) -> datetime | timedelta | None:
    """Read an aware datetime, or a relative age such as "-10m" kept as a timedelta."""
    if raw is None or isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, str) and (match := _RELATIVE_AGE.fullmatch(raw)):
        return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(
                'expected an ISO 8601 datetime with offset or an age like "-10m"'
            ) from None
    else:
        raise ValueError('expected an ISO 8601 datetime or an age like "-10m"')
    if parsed is not None and parsed.utcoffset() is None:
        raise ValueError("the datetime needs a UTC offset, e.g. Z or +00:00")
    return parsed


BalanceTime = Annotated[
    datetime | timedelta | None, BeforeValidator(_parse_balance_time)
]


class _Frozen(BaseModel):
    # Attribute docstrings document the scenario's knobs, in the JSON schema too.
    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True
    )


class Credentials(_Frozen):
    """The one client_id/secret pair the emulator accepts."""

    client_id: str = Field(min_length=1)
    secret: str = Field(min_length=1)


class Scores(_Frozen):
    """Fixed Signal scores for an account."""

    customer_initiated: StrictInt = Field(ge=1, le=99)
    bank_initiated: StrictInt = Field(ge=1, le=99)


class Account(_Frozen):
    """One account of an Item, with its balances."""

    account_id: str = Field(min_length=1)
    name: str = "Plaid Checking"
    mask: str | None = "0000"
    type: Literal[
        "depository", "credit", "loan", "investment", "brokerage", "other"
    ] = "depository"
    subtype: str | None = "checking"
    available: StrictFloat | None
    current: StrictFloat | None
    currency: str = Field(default="USD", min_length=3, max_length=3)
    balance_last_updated: BalanceTime = None
    cached_balance_age_s: StrictInt = Field(default=21600, ge=0)
    scores: Scores | None = None
    live_balance: Literal["ok", "fails"] = "ok"
    """"fails": the bank does not answer real-time extractions. A Balance-only
    evaluation still answers 200 (and is billed) with null balances and an
    INSTITUTION_NOT_RESPONDING warning; /accounts/balance/get answers that error."""

    @property
    def is_cached_only(self) -> bool:
        """True when the institution serves only cached balances (Capital One style)."""
        return self.balance_last_updated is not None

    def cached_balance_time(self, now: datetime) -> datetime:
        """When Plaid last stored this account's balance, as seen at `now`."""
        stamp = self.balance_last_updated
        if isinstance(stamp, datetime):
            return stamp
        if isinstance(stamp, timedelta):
            return now - stamp
        return now - timedelta(seconds=self.cached_balance_age_s)


class Item(_Frozen):
    """A linked Item: one access token, one institution, its accounts."""

    access_token: str = Field(min_length=1)
    institution_id: str = "ins_109508"
    error: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    # Emptiness is checked in scenario_checks: a min_length here would add a
    # misleading "at least 1 item" error whenever any account fails validation.
    accounts: tuple[Account, ...]

    def account(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        return next((a for a in self.accounts if a.account_id == account_id), None)


class Condition(_Frozen):
    """One test of an attribute; the conditions of a rule are AND-ed."""

    attribute: str
    operator: Literal["<", "<=", ">", ">=", "==", "is_null"]
    value: StrictFloat | Literal["amount"] | None = None

    @field_validator("attribute")
    @classmethod
    def _known_attribute(cls, name: str) -> str:
        if name not in CONDITION_ATTRIBUTES:
            raise ValueError(
                f"unknown attribute {name!r}: expected a core attribute name, "
                "customer_initiated_score or bank_initiated_score"
            )
        return name

    @model_validator(mode="after")
    def _value_matches_operator(self) -> "Condition":
        if self.operator == "is_null" and self.value is not None:
            raise ValueError("is_null takes no value")
        if self.operator != "is_null" and self.value is None:
            raise ValueError(f"operator {self.operator!r} needs a value")
        return self


class Rule(_Frozen):
    """A rule: conditions and the result when they all hold."""

    conditions: tuple[Condition, ...] = ()
    result: Literal["ACCEPT", "REVIEW", "REROUTE"]
    custom_action_key: str | None = None
    internal_note: str | None = None


RulesetKind = Literal["balance_only", "transaction_score"]


class Ruleset(_Frozen):
    """A Dashboard ruleset, either Balance-only or Signal Transaction Score."""

    key: str = Field(min_length=1)
    kind: RulesetKind
    rules: tuple[Rule, ...]  # emptiness: see Item.accounts


class Scenario(_Frozen):
    """Everything the emulator knows: credentials, Items, rulesets, latency, limits."""

    credentials: Credentials | None = None
    evaluate_item_errors: Literal["warning", "error"] = "warning"
    signal_addendum_signed: StrictBool = True
    """False models a Balance-only customer without the Signal Addendum: reports, and
    `user` or `device` (either alone) under a Balance-only ruleset, get 403
    ADDENDUM_NOT_SIGNED; with it, Balance-only ignores them (docs/plaid-behaviour.md)."""
    deprecated_fields: StrictBool = False
    """True adds the deprecated `risk_tier` to each score and `ruleset.outcome`:
    plaid-python 46's type-checked models require `risk_tier`, which Plaid's documented
    answer leaves out (docs/plaid-behaviour.md)."""
    repeated_transaction_id: Literal["replay", "refuse"] = "replay"
    """What a repeat of an evaluated client_transaction_id with the same payment gets:
    "replay", the stored evaluation; "refuse", 400 CLIENT_TRANSACTION_ID_ALREADY_IN_USE.
    Plaid does not document which (docs/plaid-behaviour.md); another payment under a
    used id is always refused."""
    items: tuple[Item, ...] = ()
    rulesets: tuple[Ruleset, ...] = ()
    default_ruleset: str | None = None
    """The ruleset a request that names none runs; null: see default_ruleset_opted_out."""
    default_ruleset_opted_out: StrictBool = True
    """With default_ruleset null: true models an STS customer live before 2025-10-15,
    opted out (no ruleset runs: scores and core attributes, no `ruleset`); false a newer
    customer, who gets the ruleset keyed `default`, or 400 RULESET_NOT_FOUND without
    one (docs/plaid-behaviour.md)."""
    latency_ms: dict[Endpoint, Latency] = Field(default_factory=dict)
    ruleset_latency_ms: dict[RulesetKind, Latency] = Field(default_factory=dict)
    """/signal/evaluate's latency by the kind of ruleset a call runs, in place of
    latency_ms' entry for it; Plaid documents an STS p95 under 2 s and a Balance-only
    p50 of 3 s, p95 of 11 s (docs/plaid-behaviour.md)."""
    seed: StrictInt = 0
    rate_limits: RateLimits = RateLimits()

    def item(self, access_token: str) -> Item | None:
        """The Item with this access token, or None."""
        return next((i for i in self.items if i.access_token == access_token), None)

    def ruleset(self, key: str) -> Ruleset | None:
        """The ruleset with this key, or None."""
        return next((r for r in self.rulesets if r.key == key), None)


def parse_scenario(data: object, source: str = "scenario") -> Scenario:
    """Validate already-decoded scenario data, cross-references included."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a mapping at the top level")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: " + "; ".join(problems(exc))) from None
    if found := reference_problems(scenario):
        raise ScenarioError(f"{source}: " + "; ".join(found))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file: `.json` as JSON, anything else as YAML."""
    source = str(path)
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        data = orjson.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{source}: not valid YAML or JSON: {exc}") from None
    return parse_scenario(data, source)


def default_scenario_path() -> Path:
    """The scenario shipped with the package (documented in docs/emulator.md)."""
    return Path(__file__).with_name("default_scenario.yaml")
