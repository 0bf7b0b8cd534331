"""Plaid's error JSON, as the emulator raises and renders it.

Statuses and types follow docs/plaid-behaviour.md; KNOWN_ERRORS is the table.
"""

from typing import Final

_DOC_SLUGS: Final = {
    "INVALID_REQUEST": "invalid-request",
    "INVALID_INPUT": "invalid-input",
    "INVALID_RESULT": "invalid-result",
    "ITEM_ERROR": "item",
    "INSTITUTION_ERROR": "institution",
    "SIGNAL_ERROR": "signal",
    "API_ERROR": "api",
    "RATE_LIMIT_EXCEEDED": "rate-limit-exceeded",
}


def _codes(status: int, error_type: str, *codes: str) -> dict[str, tuple[int, str]]:
    return dict.fromkeys(codes, (status, error_type))


# error_code -> (HTTP status, error_type): every code a fault may inject.
# The service's adapter (service/adapters/plaid/errors.py) lists many of the same codes.
# Keep the two apart: the emulator imports nothing from the service, and this table is
# a reading of Plaid's documentation made independently of the service's, so that the
# service's tests against the emulator check its reading instead of repeating it.
# Correct each against docs/plaid-behaviour.md, never against the other.
KNOWN_ERRORS: Final[dict[str, tuple[int, str]]] = {
    # The error type doubles as a code for faults; Plaid's generic code is RATE_LIMIT.
    **_codes(
        429,
        "RATE_LIMIT_EXCEEDED",
        "RATE_LIMIT_EXCEEDED",
        "RATE_LIMIT",
        "BALANCE_LIMIT",
        "ACCOUNTS_BALANCE_GET_LIMIT",
        "ITEM_GET_LIMIT",
        "ACCOUNTS_LIMIT",
        "INSTITUTION_RATE_LIMIT",
        "CREDITS_EXHAUSTED",
    ),
    "INTERNAL_SERVER_ERROR": (500, "API_ERROR"),
    "PLANNED_MAINTENANCE": (503, "API_ERROR"),
    **_codes(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_DOWN",
        "INSTITUTION_NOT_RESPONDING",
        "INSTITUTION_NOT_AVAILABLE",
        "INSTITUTION_NO_LONGER_SUPPORTED",
        "INSTITUTION_REGISTRATION_REQUIRED",
        "UNAUTHORIZED_INSTITUTION",
        "UNSUPPORTED_RESPONSE",
    ),
    **_codes(
        400,
        "ITEM_ERROR",
        "PRODUCT_NOT_READY",
        "ITEM_LOGIN_REQUIRED",
        "ITEM_NOT_FOUND",
        "ITEM_LOCKED",
        "PASSWORD_RESET_REQUIRED",
        "USER_SETUP_REQUIRED",
        "NO_ACCOUNTS",
        "ACCESS_NOT_GRANTED",
        "PRODUCT_NOT_ENABLED",
        "PRODUCTS_NOT_SUPPORTED",
    ),
    **_codes(
        400,
        "INVALID_INPUT",
        "INVALID_ACCESS_TOKEN",
        "INVALID_ACCOUNT_ID",
        "INVALID_API_KEYS",
        "INVALID_PRODUCT",
        "ADDITIONAL_CONSENT_REQUIRED",
    ),
    **_codes(
        400,
        "INVALID_REQUEST",
        "INVALID_FIELD",
        "MISSING_FIELDS",
        "UNKNOWN_FIELDS",
        "INVALID_BODY",
        "INVALID_HEADERS",
    ),
    "LAST_UPDATED_DATETIME_OUT_OF_RANGE": (400, "INVALID_RESULT"),
    **_codes(
        403,
        "SIGNAL_ERROR",
        "ADDENDUM_NOT_SIGNED",
        "NOT_ENABLED_FOR_SIGNAL_TRANSACTION_SCORE_RULESETS",
    ),
    **_codes(
        400,
        "SIGNAL_ERROR",
        "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        "INVALID_CONFIGURATION_STATE",
        "RULESET_NOT_FOUND",
        "SIGNAL_TRANSACTION_NOT_INITIATED",
    ),
}

_MESSAGES: Final = {
    "ITEM_LOGIN_REQUIRED": (
        "the login details of this item have changed (credentials, MFA, or required "
        "user action) and a user login is required to update this information. use "
        "Link's update mode to restore the item to a good state"
    ),
    "ITEM_LOCKED": "the account is locked. prompt the user to visit their bank's site",
    "ITEM_NOT_FOUND": "the Item you requested cannot be found",
    "INSTITUTION_DOWN": "this institution is not currently responding to this request",
    "INSTITUTION_NOT_RESPONDING": "this institution is not currently responding",
    "PRODUCT_NOT_READY": "the requested product is not yet ready",
    "INTERNAL_SERVER_ERROR": "an unexpected error occurred",
    "PLANNED_MAINTENANCE": "the Plaid API is undergoing planned maintenance",
    "CREDITS_EXHAUSTED": "you have used all of the credits of your plan",
    "ADDENDUM_NOT_SIGNED": (
        "the Signal Addendum must be signed to use this endpoint or these fields"
    ),
}
_RATE_LIMIT_MESSAGE: Final = (
    "rate limit exceeded for attempts to access this item. please try again later"
)


class PlaidApiError(Exception):
    """An error answer in Plaid's shape: type, code, message and HTTP status."""

    def __init__(
        self, error_type: str, error_code: str, message: str, status: int = 400
    ) -> None:
        super().__init__(f"{error_type}/{error_code}: {message}")
        self.error_type = error_type
        self.error_code = error_code
        self.message = message
        self.status = status

    def to_json(self, request_id: str | None) -> dict[str, object]:
        """The response body, with every key plaid-python's PlaidError requires."""
        body = self.without_request_id()
        if request_id is not None:
            body["request_id"] = request_id
        return body

    def without_request_id(self) -> dict[str, object]:
        """The error as it appears inside an Item, which carries no request_id."""
        slug = _DOC_SLUGS.get(self.error_type, "api")
        return {
            "error_type": self.error_type,
            "error_code": self.error_code,
            "error_message": self.message,
            "display_message": None,
            "documentation_url": (
                f"https://plaid.com/docs/errors/{slug}/#{self.error_code.lower()}"
            ),
            "suggested_action": None,
        }


def known_error(code: str, message: str | None = None) -> PlaidApiError:
    """The error Plaid answers with for `code`, status and type from KNOWN_ERRORS."""
    status, error_type = KNOWN_ERRORS[code]
    return PlaidApiError(error_type, code, message or default_message(code), status)


def default_message(code: str) -> str:
    """Developer text for a known error code."""
    if code in _MESSAGES:
        return _MESSAGES[code]
    if KNOWN_ERRORS.get(code, (0, ""))[1] == "RATE_LIMIT_EXCEEDED":
        return _RATE_LIMIT_MESSAGE
    return code.lower().replace("_", " ")


def invalid_request(code: str, message: str) -> PlaidApiError:
    """An INVALID_REQUEST error (malformed body, missing or bad fields)."""
    return PlaidApiError("INVALID_REQUEST", code, message)


def invalid_input(code: str, message: str) -> PlaidApiError:
    """An INVALID_INPUT error (unknown token, account or credentials)."""
    return PlaidApiError("INVALID_INPUT", code, message)


def signal_error(code: str, message: str) -> PlaidApiError:
    """A SIGNAL_ERROR (unknown ruleset, reused client_transaction_id, ...)."""
    return PlaidApiError("SIGNAL_ERROR", code, message, KNOWN_ERRORS[code][0])


def item_error_type(code: str) -> str:
    """The error_type Plaid uses for an Item's error code."""
    if code in KNOWN_ERRORS:
        return KNOWN_ERRORS[code][1]
    return "INSTITUTION_ERROR" if code.startswith("INSTITUTION_") else "ITEM_ERROR"


def item_error_message(code: str) -> str:
    """Developer text for an Item error code."""
    return _MESSAGES.get(code, f"the Item is in the error state {code}")


def item_error(code: str) -> PlaidApiError:
    """The error an Item in state `code` answers with."""
    status = KNOWN_ERRORS.get(code, (400, ""))[0]
    return PlaidApiError(item_error_type(code), code, item_error_message(code), status)


def not_found(path: str) -> PlaidApiError:
    """The answer for a path or method the emulator does not serve."""
    return PlaidApiError(
        "INVALID_REQUEST", "NOT_FOUND", f"no such endpoint: {path}", status=404
    )
