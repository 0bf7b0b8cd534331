"""Request bodies checked the way Plaid checks them, into typed requests.

Unknown fields, missing fields and wrong types become Plaid's INVALID_REQUEST errors.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from plaid_emulator.errors import invalid_request

_Check = Callable[[object], bool]


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_transaction_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 36


def _is_number(value: object) -> bool:
    # bool is an int subclass in Python but not a number in JSON.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_id_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(map(_is_str, value))


def _is_datetime(value: object) -> bool:
    return isinstance(value, str) and _parse_datetime(value) is not None


def _one_of(*allowed: str) -> _Check:
    return frozenset(allowed).__contains__


# NACHA return reason codes: R01-R53, R61-R77 (dishonored and contested), R80-R85.
_RETURN_CODES: Final = frozenset(
    f"R{n:02d}" for n in (*range(1, 54), *range(61, 78), *range(80, 86))
)
_PAYMENT_METHODS: Final = ("SAME_DAY_ACH", "STANDARD_ACH", "MULTIPLE_PAYMENT_METHODS")

# name -> (required, check, what the check wants); field lists from plaid-python 46.
_Spec = Mapping[str, tuple[bool, _Check, str]]
_STRING: Final = (False, _is_str, "a string")
_OBJECT: Final = (False, _is_object, "an object")
_TRANSACTION_ID: Final = (True, _is_transaction_id, "a string of 1 to 36 characters")
_ACCESS_TOKEN: Final[_Spec] = {"access_token": (True, _is_str, "a string")}
_EVALUATE_FIELDS: Final[_Spec] = {
    "access_token": (True, _is_str, "a string"),
    "account_id": (True, _is_str, "a string"),
    "client_transaction_id": _TRANSACTION_ID,
    "amount": (True, _is_number, "a number"),
    "user_present": (False, _is_bool, "a boolean"),
    "client_user_id": _STRING,
    "is_recurring": (False, _is_bool, "a boolean"),
    "default_payment_method": (
        False,
        _one_of(*_PAYMENT_METHODS),
        "one of " + ", ".join(_PAYMENT_METHODS),
    ),
    "user": _OBJECT,
    "device": _OBJECT,
    "risk_profile_key": _STRING,
    "ruleset_key": _STRING,
}
# Objects inside a body, by their dotted path: SignalUser, SignalDevice and parts.
_NESTED: Final[Mapping[str, _Spec]] = {
    "user": {
        "name": _OBJECT,
        "phone_number": _STRING,
        "email_address": _STRING,
        "address": _OBJECT,
    },
    "user.name": dict.fromkeys(
        ("prefix", "given_name", "middle_name", "family_name", "suffix"), _STRING
    ),
    "user.address": dict.fromkeys(
        ("street", "city", "region", "postal_code", "country"), _STRING
    ),
    "device": dict.fromkeys(("ip_address", "user_agent"), _STRING),
    "options": {
        "account_ids": (False, _is_id_list, "a non-empty list of strings"),
        "min_last_updated_datetime": (
            False,
            _is_datetime,
            "an ISO 8601 datetime string",
        ),
    },
}
_BALANCE_FIELDS: Final[_Spec] = {**_ACCESS_TOKEN, "options": _OBJECT}
_DECISION_OUTCOMES: Final = (
    "APPROVE",
    "REVIEW",
    "REJECT",
    "TAKE_OTHER_RISK_MEASURES",
    "NOT_EVALUATED",
)
# plaid-python 46 also lists the string "null": its generator's rendering of the
# schema's null member, which both mean as JSON null (accepted: null is "absent").
_REPORT_PAYMENT_METHODS: Final = ("SAME_DAY_ACH", "NEXT_DAY_ACH", *_PAYMENT_METHODS[1:])
_DECISION_REPORT_FIELDS: Final[_Spec] = {
    "client_transaction_id": _TRANSACTION_ID,
    "initiated": (True, _is_bool, "a boolean (true or false, not a string)"),
    "days_funds_on_hold": (False, _is_count, "an integer of at least 0"),
    "decision_outcome": (
        False,
        _one_of(*_DECISION_OUTCOMES),
        "one of " + ", ".join(_DECISION_OUTCOMES),
    ),
    "payment_method": (
        False,
        _one_of(*_REPORT_PAYMENT_METHODS),
        "one of " + ", ".join(_REPORT_PAYMENT_METHODS),
    ),
    "amount_instantly_available": (False, _is_number, "a number"),
    "submitted_at": (False, _is_datetime, "an ISO 8601 datetime string"),
}
_RETURN_REPORT_FIELDS: Final[_Spec] = {
    "client_transaction_id": _TRANSACTION_ID,
    "return_code": (True, _RETURN_CODES.__contains__, "a valid ACH return code"),
    "returned_at": (False, _is_datetime, "an ISO 8601 datetime string"),
}


@dataclass(frozen=True, slots=True)
class EvaluateRequest:
    """The parts of a /signal/evaluate body the emulator acts on."""

    access_token: str
    account_id: str
    client_transaction_id: str
    amount: float
    ruleset_key: str | None
    has_user_data: bool = False

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


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A decision or return report: its transaction and its checked fields."""

    client_transaction_id: str
    fields: dict[str, object]

    @property
    def initiated(self) -> bool:
        """A decision report's `initiated` (a return report has none)."""
        return self.fields.get("initiated") is True


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
        nested = _NESTED.get(prefix + name)
        if nested is not None and isinstance(value, dict):
            _check_fields(value, nested, prefix=f"{prefix}{name}.")


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
        has_user_data=bool(body.get("user") or body.get("device")),
    )


def parse_balance_get(body: Mapping[str, object]) -> BalanceGetRequest:
    """Check an /accounts/balance/get body; raises PlaidApiError."""
    _check_fields(body, _BALANCE_FIELDS)
    options = cast(dict[str, object], body.get("options") or {})
    ids = options.get("account_ids")
    floor = options.get("min_last_updated_datetime")
    return BalanceGetRequest(
        access_token=str(body["access_token"]),
        account_ids=tuple(ids) if isinstance(ids, list) else None,
        min_last_updated=_parse_datetime(floor) if isinstance(floor, str) else None,
    )


def parse_access_token(body: Mapping[str, object]) -> str:
    """Check a body that holds only an access_token (/signal/prepare, /item/get)."""
    _check_fields(body, _ACCESS_TOKEN)
    return str(body["access_token"])


def parse_decision_report(body: Mapping[str, object]) -> ReportRequest:
    """Check a /signal/decision/report body; raises PlaidApiError."""
    _check_fields(body, _DECISION_REPORT_FIELDS)
    return ReportRequest(str(body["client_transaction_id"]), dict(body))


def parse_return_report(body: Mapping[str, object]) -> ReportRequest:
    """Check a /signal/return/report body; raises PlaidApiError."""
    _check_fields(body, _RETURN_REPORT_FIELDS)
    return ReportRequest(str(body["client_transaction_id"]), dict(body))


def _parse_datetime(raw: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        return None
    # plaid-python sends naive datetimes as they are; Plaid reads them as UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
