"""Plaid's error classes (docs/plaid-behaviour.md) mapped to the service's FailureKind."""

from __future__ import annotations

from service.app.errors import FailureKind

# Many of these codes are also listed in plaid_emulator/errors.py. Keep the two lists
# apart: the emulator imports nothing from the service, and its table is a reading
# of Plaid's documentation made independently of this one, so that testing the service
# against the emulator checks this reading instead of repeating it. Correct each
# against docs/plaid-behaviour.md, never against the other.
_ITEM_CODES = frozenset(
    {
        "ITEM_LOGIN_REQUIRED",
        "ITEM_NOT_FOUND",
        "ITEM_LOCKED",
        "PASSWORD_RESET_REQUIRED",
        "USER_SETUP_REQUIRED",
        "NO_ACCOUNTS",
        "ACCESS_NOT_GRANTED",
        "INVALID_CREDENTIALS",
        "INVALID_MFA",
        "ITEM_NOT_SUPPORTED",
        "MFA_NOT_SUPPORTED",
        "INSUFFICIENT_CREDENTIALS",
        "USER_INPUT_TIMEOUT",
        "ITEM_CONCURRENTLY_DELETED",
    }
)
_NOT_SUPPORTED_CODES = frozenset(
    {
        "PRODUCT_NOT_ENABLED",
        "PRODUCTS_NOT_SUPPORTED",
        "INVALID_PRODUCT",
        "ADDITIONAL_CONSENT_REQUIRED",
        "ADDENDUM_NOT_SIGNED",
        "INVALID_CONFIGURATION_STATE",
        "NOT_ENABLED_FOR_SIGNAL_TRANSACTION_SCORE_RULESETS",
        "INSTITUTION_NO_LONGER_SUPPORTED",
        "INSTITUTION_REGISTRATION_REQUIRED",
        "UNAUTHORIZED_INSTITUTION",
        "UNSUPPORTED_RESPONSE",
    }
)
_BY_CODE = {
    "INVALID_ACCESS_TOKEN": FailureKind.INVALID_ACCESS_TOKEN,
    "INVALID_ACCOUNT_ID": FailureKind.INVALID_ACCOUNT,
    "INVALID_API_KEYS": FailureKind.CREDENTIALS_REJECTED,
    "RULESET_NOT_FOUND": FailureKind.RULESET_NOT_FOUND,
    "CLIENT_TRANSACTION_ID_ALREADY_IN_USE": FailureKind.IDEMPOTENCY_CONFLICT,
    "CREDITS_EXHAUSTED": FailureKind.QUOTA_EXHAUSTED,
    "PRODUCT_NOT_READY": FailureKind.UNAVAILABLE,
    "INSTITUTION_DOWN": FailureKind.INSTITUTION_DOWN,
    "INSTITUTION_NOT_RESPONDING": FailureKind.INSTITUTION_DOWN,
    "INSTITUTION_NOT_AVAILABLE": FailureKind.INSTITUTION_DOWN,
    "INSTITUTION_RATE_LIMIT": FailureKind.RATE_LIMITED,
    "INTERNAL_SERVER_ERROR": FailureKind.UNAVAILABLE,
    "PLANNED_MAINTENANCE": FailureKind.UNAVAILABLE,
    **dict.fromkeys(_ITEM_CODES, FailureKind.RELINK_REQUIRED),
    **dict.fromkeys(_NOT_SUPPORTED_CODES, FailureKind.NOT_SUPPORTED),
}
_BY_TYPE = {
    "ITEM_ERROR": FailureKind.RELINK_REQUIRED,
    "RATE_LIMIT_EXCEEDED": FailureKind.RATE_LIMITED,
    "API_ERROR": FailureKind.UNAVAILABLE,
    "INSTITUTION_ERROR": FailureKind.INSTITUTION_DOWN,
    "INVALID_REQUEST": FailureKind.REQUEST_REJECTED,
    "INVALID_INPUT": FailureKind.REQUEST_REJECTED,
    "INVALID_RESULT": FailureKind.REQUEST_REJECTED,
    "SIGNAL_ERROR": FailureKind.NOT_SUPPORTED,
}


# How long each documented rate limit lasts (docs/plaid-behaviour.md, "Errors and rate limits"):
# the RetryInfo a caller gets. RATE_LIMIT does not say which limit was hit; on
# /signal/evaluate it is 20/s per client or 70/h per Item, so a minute is the guess.
RATE_LIMIT_WINDOW_S = {
    "BALANCE_LIMIT": 60.0,  # 5 per minute per Item
    "ACCOUNTS_BALANCE_GET_LIMIT": 60.0,  # 1,200 per minute per client
    "ITEM_GET_LIMIT": 60.0,
    "ACCOUNTS_LIMIT": 60.0,
    "INSTITUTION_RATE_LIMIT": 60.0,  # the bank's own limit, shared with other clients
    "RATE_LIMIT": 60.0,
}
DEFAULT_RATE_LIMIT_WINDOW_S = 60.0


def retry_after_s(kind: FailureKind, error_code: str | None) -> float | None:
    """The window of a rate limit; None for every other failure."""
    if kind is not FailureKind.RATE_LIMITED:
        return None
    return RATE_LIMIT_WINDOW_S.get(error_code or "", DEFAULT_RATE_LIMIT_WINDOW_S)


def classify(
    http_status: int, error_type: str | None, error_code: str | None
) -> FailureKind:
    """The failure kind for a Plaid error answer: by code, then type, then HTTP status."""
    if error_code in _BY_CODE:
        return _BY_CODE[error_code]
    if error_type in _BY_TYPE:
        return _BY_TYPE[error_type]
    if http_status == 429:
        return FailureKind.RATE_LIMITED
    if http_status >= 500 or http_status in (408, 0):
        return FailureKind.UNAVAILABLE
    if http_status in (401, 403):
        return FailureKind.CREDENTIALS_REJECTED
    return FailureKind.REQUEST_REJECTED
