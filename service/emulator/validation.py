"""Request bodies checked the way Plaid checks them, into typed requests.

Unknown fields, missing fields and wrong types become Plaid's INVALID_REQUEST errors.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from service.emulator.errors import invalid_request

_Check = Callable[[object], bool]


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_transaction_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 36


def _is_number(value: object) -> bool:
    # bool is an int subclass in Python but not a number in JSON.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_id_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(map(_is_str, value))


# name -> (required, check, what the check wants); from SignalEvaluateRequest in SDK 46.
_Spec = Mapping[str, tuple[bool, _Check, str]]
_EVALUATE_FIELDS: Final[_Spec] = {
    "access_token": (True, _is_str, "a string"),
    "account_id": (True, _is_str, "a string"),
    "client_transaction_id": (
        True,
        _is_transaction_id,
        "a string of 1 to 36 characters",
    ),
    "amount": (True, _is_number, "a number"),
    "user_present": (False, _is_bool, "a boolean"),
    "client_user_id": (False, _is_str, "a string"),
    "is_recurring": (False, _is_bool, "a boolean"),
    "default_payment_method": (False, _is_str, "a string"),
    "user": (False, _is_object, "an object"),
    "device": (False, _is_object, "an object"),
    "risk_profile_key": (False, _is_str, "a string"),
    "ruleset_key": (False, _is_str, "a string"),
}
_BALANCE_FIELDS: Final[_Spec] = {
    "access_token": (True, _is_str, "a string"),
    "options": (False, _is_object, "an object"),
}
_BALANCE_OPTIONS: Final[_Spec] = {
    "account_ids": (False, _is_id_list, "a non-empty list of strings"),
    "min_last_updated_datetime": (False, _is_str, "an ISO 8601 datetime string"),
}


@dataclass(frozen=True, slots=True)
class EvaluateRequest:
    """The parts of a /signal/evaluate body the emulator acts on."""

    access_token: str
    account_id: str
    client_transaction_id: str
    amount: float
    ruleset_key: str | None

    @property
    def payment(self) -> tuple[str, str, float, str | None]:
        """What must match for a repeated client_transaction_id to be a replay."""
        return (self.access_token, self.account_id, self.amount, self.ruleset_key)


@dataclass(frozen=True, slots=True)
class BalanceGetRequest:
    """The parts of an /accounts/balance/get body the emulator acts on."""

    access_token: str
    account_ids: tuple[str, ...] | None
    min_last_updated: datetime | None


def _check_fields(body: Mapping[str, object], spec: _Spec, prefix: str = "") -> None:
    unknown = [prefix + name for name in body if name not in spec]
    if unknown:
        raise invalid_request(
            "UNKNOWN_FIELDS",
            "the following fields are not recognized by this endpoint: "
            + ", ".join(unknown),
        )
    # Plaid decodes null as absent, so a null required field is a missing one.
    missing = [
        prefix + n for n, (req, _, _) in spec.items() if req and body.get(n) is None
    ]
    if missing:
        raise invalid_request(
            "MISSING_FIELDS", "the following fields are required: " + ", ".join(missing)
        )
    for name, value in body.items():
        _, check, wanted = spec[name]
        if value is not None and not check(value):
            raise invalid_request("INVALID_FIELD", f"{prefix}{name} must be {wanted}")


def parse_evaluate(body: Mapping[str, object]) -> EvaluateRequest:
    """Check a /signal/evaluate body; raises PlaidApiError."""
    _check_fields(body, _EVALUATE_FIELDS)
    # _check_fields has made these casts true.
    amount = cast(float, body["amount"])
    if amount <= 0:
        raise invalid_request("INVALID_FIELD", "amount must be greater than 0")
    ruleset_key = body.get("ruleset_key")
    return EvaluateRequest(
        access_token=str(body["access_token"]),
        account_id=str(body["account_id"]),
        client_transaction_id=str(body["client_transaction_id"]),
        amount=float(amount),
        ruleset_key=ruleset_key if isinstance(ruleset_key, str) else None,
    )


def parse_balance_get(body: Mapping[str, object]) -> BalanceGetRequest:
    """Check an /accounts/balance/get body; raises PlaidApiError."""
    _check_fields(body, _BALANCE_FIELDS)
    options = cast(dict[str, object], body.get("options") or {})
    _check_fields(options, _BALANCE_OPTIONS, prefix="options.")
    ids = options.get("account_ids")
    return BalanceGetRequest(
        access_token=str(body["access_token"]),
        account_ids=tuple(ids) if isinstance(ids, list) else None,
        min_last_updated=_parse_datetime(options.get("min_last_updated_datetime")),
    )


def _parse_datetime(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_request(
            "INVALID_FIELD",
            "options.min_last_updated_datetime must be an ISO 8601 datetime",
        ) from None
    # plaid-python sends naive datetimes as they are; Plaid reads them as UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
