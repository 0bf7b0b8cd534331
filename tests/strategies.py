"""Hypothesis strategies for the decision core's values and the wire's money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from service.domain.model import (
    AppliedRuleset,
    Balance,
    BalanceAnswer,
    PlaidWarning,
    Result,
    Scores,
    SignalAnswer,
    TimeSource,
)
from service.domain.money import Money
from service.domain.policy import BalancePolicy, ScorePolicy
from service.domain.realtime import (
    BALANCE_ONLY_ATTRIBUTES,
    RulesetDeclaration,
    RulesetType,
)

INT64_MAX = 2**63 - 1
CURRENCIES = ("USD", "JPY", "KWD")
RULESET_KEYS = ("balance-only", "sts-with-balance", "sts-scores-only", "unregistered")
STS_ATTRIBUTES = (
    "balance_to_transaction_amount_ratio",
    "p50_eod_balance_30d",
    "unauthorized_transactions_count_30d",
    "days_since_first_plaid_connection",
    "is_account_closed",
)
# Calls are placed in this century; balance times may lie well before a call.
CALL_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (bounds must be naive; tz is UTC)
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)

currencies = st.sampled_from(CURRENCIES)
windows = st.integers(min_value=0, max_value=86_400).map(lambda s: timedelta(seconds=s))


@st.composite
def money(
    draw: st.DrawFn, currency: str | None = None, *, positive: bool = False
) -> Money:
    """Money whose major units fit google.type.Money's int64 `units`."""
    code = currency or draw(currencies)
    low = 1 if positive else -INT64_MAX
    return Money(draw(st.integers(min_value=low, max_value=INT64_MAX)), code)


def payment_amounts(currency: str = "USD") -> st.SearchStrategy[Money]:
    """Realistic positive payment amounts (up to 10^12 minor units)."""
    return st.integers(min_value=1, max_value=10**12).map(lambda n: Money(n, currency))


def balance_figures() -> st.SearchStrategy[Decimal | None]:
    """A balance value as Plaid writes it (cents), negative for overdrafts, or null."""
    return st.none() | st.decimals(
        min_value=-(10**10), max_value=10**10, places=2, allow_nan=False
    )


margins = st.decimals(min_value=0, max_value=10, places=4, allow_nan=False)


@st.composite
def balances(
    draw: st.DrawFn, now: datetime | None = None, currency: str = "USD"
) -> Balance:
    """A Balance in `currency` (sometimes unknown), maybe with an as-of time."""
    as_of = draw(
        st.none()
        | (
            st.integers(min_value=-600, max_value=10 * 86_400).map(
                lambda age: (
                    (now or datetime(2030, 1, 1, tzinfo=UTC)) - timedelta(seconds=age)
                )
            )
        )
    )
    return Balance(
        available=draw(balance_figures()),
        current=draw(balance_figures()),
        currency=draw(st.sampled_from((currency, None))),
        as_of=as_of,
        as_of_source=TimeSource.PLAID_REPORTED if as_of else TimeSource.UNKNOWN,
    )


balance_policies = st.builds(
    BalancePolicy,
    margin=margins,
    allow_current_fallback=st.booleans(),
    max_balance_age_s=st.integers(min_value=1, max_value=30 * 86_400),
)

score_values = st.integers(min_value=1, max_value=99)
thresholds = st.integers(min_value=1, max_value=100)

score_policies = st.builds(
    ScorePolicy,
    review_customer_initiated=thresholds,
    reroute_customer_initiated=thresholds,
    review_bank_initiated=thresholds,
    reroute_bank_initiated=thresholds,
)

scores = st.builds(
    Scores,
    customer_initiated=score_values,
    customer_tier=st.integers(min_value=1, max_value=5),
    bank_initiated=score_values,
    bank_tier=st.integers(min_value=1, max_value=8),
)

applied_rulesets = st.builds(
    AppliedRuleset,
    key=st.none() | st.sampled_from(RULESET_KEYS),
    result=st.sampled_from([r.value for r in Result] + ["BLOCK", ""]),
    custom_action_key=st.none() | st.sampled_from(("3-day-hold", "nsf")),
    internal_note=st.none() | st.just("low balance"),
)

plaid_warnings = st.builds(
    PlaidWarning,
    warning_type=st.just("BANK_ERROR"),
    warning_code=st.sampled_from(("ITEM_LOGIN_REQUIRED", "NO_ACCOUNTS")),
    warning_message=st.just("bank data is stale"),
)

attribute_keys = st.frozensets(
    st.sampled_from(sorted(BALANCE_ONLY_ATTRIBUTES) + list(STS_ATTRIBUTES))
)

registries = st.dictionaries(
    st.sampled_from(RULESET_KEYS[:3]),
    st.builds(
        RulesetDeclaration,
        type=st.none() | st.sampled_from(RulesetType),
        balance_rule=st.none() | st.booleans(),
    ),
)

requested_keys = st.none() | st.sampled_from(RULESET_KEYS)


@st.composite
def signal_answers(draw: st.DrawFn, *, evidence: bool | None = None) -> SignalAnswer:
    """A parsed /signal/evaluate answer; `evidence=False` has no scores nor balances."""
    sent_at = draw(CALL_TIMES)
    balance = draw(balances(now=sent_at))
    answer_scores = draw(st.none() | scores)
    if evidence is False:
        balance = Balance(None, None, "USD", balance.as_of, balance.as_of_source)
        answer_scores = None
    return SignalAnswer(
        request_id="req-signal",
        ruleset=draw(st.none() | applied_rulesets),
        scores=answer_scores,
        core_attributes=dict.fromkeys(draw(attribute_keys)),
        balance=balance,
        warnings=tuple(draw(st.lists(plaid_warnings, max_size=2))),
        sent_at=sent_at,
        received_at=sent_at + timedelta(milliseconds=draw(st.integers(0, 60_000))),
    )


@st.composite
def balance_answers(draw: st.DrawFn) -> BalanceAnswer:
    """A parsed /accounts/balance/get answer for one account."""
    sent_at = draw(CALL_TIMES)
    return BalanceAnswer(
        request_id="req-balance",
        balance=draw(balances(now=sent_at)),
        sent_at=sent_at,
        received_at=sent_at + timedelta(milliseconds=draw(st.integers(0, 60_000))),
        too_old=draw(st.booleans()),
    )
