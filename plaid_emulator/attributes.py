"""The core attributes of Plaid's /signal/evaluate response (plaid-python 46 names).

Hard-coded so the emulator never imports plaid; a test checks them against the SDK.
"""

from typing import Final

CORE_ATTRIBUTES: Final[tuple[str, ...]] = (
    "unauthorized_transactions_count_7d",
    "unauthorized_transactions_count_30d",
    "unauthorized_transactions_count_60d",
    "unauthorized_transactions_count_90d",
    "nsf_overdraft_transactions_count_7d",
    "nsf_overdraft_transactions_count_30d",
    "nsf_overdraft_transactions_count_60d",
    "nsf_overdraft_transactions_count_90d",
    "days_since_first_plaid_connection",
    "plaid_connections_count_7d",
    "plaid_connections_count_30d",
    "total_plaid_connections_count",
    "is_savings_or_money_market_account",
    "total_credit_transactions_amount_10d",
    "total_debit_transactions_amount_10d",
    "p50_credit_transactions_amount_28d",
    "p50_debit_transactions_amount_28d",
    "p95_credit_transactions_amount_28d",
    "p95_debit_transactions_amount_28d",
    "days_with_negative_balance_count_90d",
    "p90_eod_balance_30d",
    "p90_eod_balance_60d",
    "p90_eod_balance_90d",
    "p10_eod_balance_30d",
    "p10_eod_balance_60d",
    "p10_eod_balance_90d",
    "available_balance",
    "current_balance",
    "balance_last_updated",
    "phone_change_count_28d",
    "phone_change_count_90d",
    "email_change_count_28d",
    "email_change_count_90d",
    "address_change_count_28d",
    "address_change_count_90d",
    "plaid_non_oauth_authentication_attempts_count_3d",
    "plaid_non_oauth_authentication_attempts_count_7d",
    "plaid_non_oauth_authentication_attempts_count_30d",
    "failed_plaid_non_oauth_authentication_attempts_count_3d",
    "failed_plaid_non_oauth_authentication_attempts_count_7d",
    "failed_plaid_non_oauth_authentication_attempts_count_30d",
    "debit_transactions_count_10d",
    "credit_transactions_count_10d",
    "debit_transactions_count_30d",
    "credit_transactions_count_30d",
    "debit_transactions_count_60d",
    "credit_transactions_count_60d",
    "debit_transactions_count_90d",
    "credit_transactions_count_90d",
    "total_debit_transactions_amount_30d",
    "total_credit_transactions_amount_30d",
    "total_debit_transactions_amount_60d",
    "total_credit_transactions_amount_60d",
    "total_debit_transactions_amount_90d",
    "total_credit_transactions_amount_90d",
    "p50_eod_balance_30d",
    "p50_eod_balance_60d",
    "p50_eod_balance_90d",
    "p50_eod_balance_31d_to_60d",
    "p50_eod_balance_61d_to_90d",
    "p90_eod_balance_31d_to_60d",
    "p90_eod_balance_61d_to_90d",
    "p10_eod_balance_31d_to_60d",
    "p10_eod_balance_61d_to_90d",
    "transactions_last_updated",
    "is_account_closed",
    "is_account_frozen_or_restricted",
    "distinct_ip_addresses_count_3d",
    "distinct_ip_addresses_count_7d",
    "distinct_ip_addresses_count_30d",
    "distinct_ip_addresses_count_90d",
    "distinct_user_agents_count_3d",
    "distinct_user_agents_count_7d",
    "distinct_user_agents_count_30d",
    "distinct_user_agents_count_90d",
    "distinct_ssl_tls_connection_sessions_count_3d",
    "distinct_ssl_tls_connection_sessions_count_7d",
    "distinct_ssl_tls_connection_sessions_count_30d",
    "distinct_ssl_tls_connection_sessions_count_90d",
    "days_since_account_opening",
    "balance_to_transaction_amount_ratio",
)

# What a balance_only ruleset's rules may test. In a transaction_score ruleset they read
# the cached balance: only the ruleset type decides a live fetch (docs/plaid-behaviour.md).
BALANCE_ATTRIBUTES: Final = frozenset(
    {"available_balance", "current_balance", "balance_to_transaction_amount_ratio"}
)

# The two attributes a Balance-only ruleset returns (docs/plaid-behaviour.md).
BALANCE_ONLY_ATTRIBUTES: Final = ("available_balance", "current_balance")

SCORE_ATTRIBUTES: Final = frozenset(
    {"customer_initiated_score", "bank_initiated_score"}
)

DATETIME_ATTRIBUTES: Final = frozenset(
    {"balance_last_updated", "transactions_last_updated"}
)

CONDITION_ATTRIBUTES: Final = frozenset(CORE_ATTRIBUTES) | SCORE_ATTRIBUTES
