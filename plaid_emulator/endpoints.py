"""The Plaid endpoints the emulator serves: the ones ach-risk calls.

Scenario keys, fault targets and rate-limit overrides are all checked against this list.
"""

from typing import Final, Literal, get_args

Endpoint = Literal[
    "/signal/evaluate",
    "/signal/decision/report",
    "/signal/return/report",
    "/signal/prepare",
    "/accounts/balance/get",
    "/item/get",
]
SIGNAL_EVALUATE: Final = "/signal/evaluate"
SIGNAL_DECISION_REPORT: Final = "/signal/decision/report"
SIGNAL_RETURN_REPORT: Final = "/signal/return/report"
SIGNAL_PREPARE: Final = "/signal/prepare"
ACCOUNTS_BALANCE_GET: Final = "/accounts/balance/get"
ITEM_GET: Final = "/item/get"

ENDPOINTS: Final[tuple[Endpoint, ...]] = get_args(Endpoint)
