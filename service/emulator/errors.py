"""Plaid's error JSON, as the emulator raises and renders it.

Statuses and types follow reference/plaid.md section 3.
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

_ITEM_MESSAGES: Final = {
    "ITEM_LOGIN_REQUIRED": (
        "the login details of this item have changed (credentials, MFA, or required "
        "user action) and a user login is required to update this information. use "
        "Link's update mode to restore the item to a good state"
    ),
    "ITEM_LOCKED": "the account is locked. prompt the user to visit their bank's site",
    "ITEM_NOT_FOUND": "the Item you requested cannot be found",
    "INSTITUTION_DOWN": "this institution is not currently responding to this request",
    "INSTITUTION_NOT_RESPONDING": "this institution is not currently responding",
}


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

    def to_json(self, request_id: str) -> dict[str, object]:
        """The response body, with every key plaid-python's PlaidError requires."""
        slug = _DOC_SLUGS.get(self.error_type, "api")
        return {
            "error_type": self.error_type,
            "error_code": self.error_code,
            "error_message": self.message,
            "display_message": None,
            "request_id": request_id,
            "documentation_url": (
                f"https://plaid.com/docs/errors/{slug}/#{self.error_code.lower()}"
            ),
            "suggested_action": None,
        }


def invalid_request(code: str, message: str) -> PlaidApiError:
    """An INVALID_REQUEST error (malformed body, missing or bad fields)."""
    return PlaidApiError("INVALID_REQUEST", code, message)


def invalid_input(code: str, message: str) -> PlaidApiError:
    """An INVALID_INPUT error (unknown token, account or credentials)."""
    return PlaidApiError("INVALID_INPUT", code, message)


def signal_error(code: str, message: str) -> PlaidApiError:
    """A SIGNAL_ERROR (unknown ruleset, reused client_transaction_id)."""
    return PlaidApiError("SIGNAL_ERROR", code, message)


def item_error_type(code: str) -> str:
    """The error_type Plaid uses for an Item's error code."""
    return "INSTITUTION_ERROR" if code.startswith("INSTITUTION_") else "ITEM_ERROR"


def item_error_message(code: str) -> str:
    """Developer text for an Item error code."""
    return _ITEM_MESSAGES.get(code, f"the Item is in the error state {code}")


def item_error(code: str) -> PlaidApiError:
    """The error an Item in state `code` answers with."""
    return PlaidApiError(item_error_type(code), code, item_error_message(code))


def not_found(path: str) -> PlaidApiError:
    """The answer for a path or method the emulator does not serve."""
    return PlaidApiError(
        "INVALID_REQUEST", "NOT_FOUND", f"no such endpoint: {path}", status=404
    )
