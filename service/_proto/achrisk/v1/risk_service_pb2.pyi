import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentRail(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_RAIL_UNSPECIFIED: _ClassVar[PaymentRail]
    PAYMENT_RAIL_ACH_STANDARD: _ClassVar[PaymentRail]
    PAYMENT_RAIL_ACH_SAME_DAY: _ClassVar[PaymentRail]
    PAYMENT_RAIL_RTP: _ClassVar[PaymentRail]
    PAYMENT_RAIL_FEDNOW: _ClassVar[PaymentRail]
    PAYMENT_RAIL_WIRE: _ClassVar[PaymentRail]
    PAYMENT_RAIL_CARD: _ClassVar[PaymentRail]
    PAYMENT_RAIL_BALANCE_CHECK: _ClassVar[PaymentRail]

class DecisionResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_RESULT_UNSPECIFIED: _ClassVar[DecisionResult]
    DECISION_RESULT_ACCEPT: _ClassVar[DecisionResult]
    DECISION_RESULT_REVIEW: _ClassVar[DecisionResult]
    DECISION_RESULT_REROUTE: _ClassVar[DecisionResult]

class DecisionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_SOURCE_UNSPECIFIED: _ClassVar[DecisionSource]
    DECISION_SOURCE_SIGNAL_RULESET: _ClassVar[DecisionSource]
    DECISION_SOURCE_SIGNAL_NO_RULESET: _ClassVar[DecisionSource]
    DECISION_SOURCE_BALANCE_POLICY: _ClassVar[DecisionSource]
    DECISION_SOURCE_DEGRADED_POLICY: _ClassVar[DecisionSource]

class RealtimeBalanceBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REALTIME_BALANCE_BASIS_UNSPECIFIED: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_RULESET_HAS_BALANCE_RULE: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_RULESET_HAS_NO_BALANCE_RULE: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_NO_RULESET: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_INFERRED_FROM_RESPONSE: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_NO_PLAID_RESPONSE: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_RULESET_BALANCE_ONLY: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_RULESET_TRANSACTION_SCORES: _ClassVar[RealtimeBalanceBasis]
    REALTIME_BALANCE_BASIS_REUSED_RECENT_FETCH: _ClassVar[RealtimeBalanceBasis]

class BalanceFreshness(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_FRESHNESS_UNSPECIFIED: _ClassVar[BalanceFreshness]
    BALANCE_FRESHNESS_REQUIRE_LIVE: _ClassVar[BalanceFreshness]
    BALANCE_FRESHNESS_ACCEPT_RECENT: _ClassVar[BalanceFreshness]

class BalanceTimeSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_TIME_SOURCE_UNSPECIFIED: _ClassVar[BalanceTimeSource]
    BALANCE_TIME_SOURCE_PLAID_REPORTED: _ClassVar[BalanceTimeSource]
    BALANCE_TIME_SOURCE_RESPONSE_TIME: _ClassVar[BalanceTimeSource]

class DecisionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_OUTCOME_UNSPECIFIED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_APPROVE: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_REVIEW: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_REJECT: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_TAKE_OTHER_RISK_MEASURES: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_NOT_EVALUATED: _ClassVar[DecisionOutcome]

class PaymentMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_UNSPECIFIED: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_SAME_DAY_ACH: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_NEXT_DAY_ACH: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_STANDARD_ACH: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_MULTIPLE_PAYMENT_METHODS: _ClassVar[PaymentMethod]

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_DECISION: _ClassVar[ReportKind]
    REPORT_KIND_RETURN: _ClassVar[ReportKind]

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_PENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DELIVERED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DEAD_LETTERED: _ClassVar[DeliveryStatus]
PAYMENT_RAIL_UNSPECIFIED: PaymentRail
PAYMENT_RAIL_ACH_STANDARD: PaymentRail
PAYMENT_RAIL_ACH_SAME_DAY: PaymentRail
PAYMENT_RAIL_RTP: PaymentRail
PAYMENT_RAIL_FEDNOW: PaymentRail
PAYMENT_RAIL_WIRE: PaymentRail
PAYMENT_RAIL_CARD: PaymentRail
PAYMENT_RAIL_BALANCE_CHECK: PaymentRail
DECISION_RESULT_UNSPECIFIED: DecisionResult
DECISION_RESULT_ACCEPT: DecisionResult
DECISION_RESULT_REVIEW: DecisionResult
DECISION_RESULT_REROUTE: DecisionResult
DECISION_SOURCE_UNSPECIFIED: DecisionSource
DECISION_SOURCE_SIGNAL_RULESET: DecisionSource
DECISION_SOURCE_SIGNAL_NO_RULESET: DecisionSource
DECISION_SOURCE_BALANCE_POLICY: DecisionSource
DECISION_SOURCE_DEGRADED_POLICY: DecisionSource
REALTIME_BALANCE_BASIS_UNSPECIFIED: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_RULESET_HAS_BALANCE_RULE: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_RULESET_HAS_NO_BALANCE_RULE: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_NO_RULESET: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_INFERRED_FROM_RESPONSE: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_NO_PLAID_RESPONSE: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_RULESET_BALANCE_ONLY: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_RULESET_TRANSACTION_SCORES: RealtimeBalanceBasis
REALTIME_BALANCE_BASIS_REUSED_RECENT_FETCH: RealtimeBalanceBasis
BALANCE_FRESHNESS_UNSPECIFIED: BalanceFreshness
BALANCE_FRESHNESS_REQUIRE_LIVE: BalanceFreshness
BALANCE_FRESHNESS_ACCEPT_RECENT: BalanceFreshness
BALANCE_TIME_SOURCE_UNSPECIFIED: BalanceTimeSource
BALANCE_TIME_SOURCE_PLAID_REPORTED: BalanceTimeSource
BALANCE_TIME_SOURCE_RESPONSE_TIME: BalanceTimeSource
DECISION_OUTCOME_UNSPECIFIED: DecisionOutcome
DECISION_OUTCOME_APPROVE: DecisionOutcome
DECISION_OUTCOME_REVIEW: DecisionOutcome
DECISION_OUTCOME_REJECT: DecisionOutcome
DECISION_OUTCOME_TAKE_OTHER_RISK_MEASURES: DecisionOutcome
DECISION_OUTCOME_NOT_EVALUATED: DecisionOutcome
PAYMENT_METHOD_UNSPECIFIED: PaymentMethod
PAYMENT_METHOD_SAME_DAY_ACH: PaymentMethod
PAYMENT_METHOD_NEXT_DAY_ACH: PaymentMethod
PAYMENT_METHOD_STANDARD_ACH: PaymentMethod
PAYMENT_METHOD_MULTIPLE_PAYMENT_METHODS: PaymentMethod
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_DECISION: ReportKind
REPORT_KIND_RETURN: ReportKind
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_PENDING: DeliveryStatus
DELIVERY_STATUS_DELIVERED: DeliveryStatus
DELIVERY_STATUS_DEAD_LETTERED: DeliveryStatus

class EvaluatePaymentRequest(_message.Message):
    __slots__ = ("client_transaction_id", "access_token", "account_id", "amount", "rail", "ruleset_key", "user_present", "is_recurring", "client_user_id", "user", "device", "balance_freshness", "max_balance_age")
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RAIL_FIELD_NUMBER: _ClassVar[int]
    RULESET_KEY_FIELD_NUMBER: _ClassVar[int]
    USER_PRESENT_FIELD_NUMBER: _ClassVar[int]
    IS_RECURRING_FIELD_NUMBER: _ClassVar[int]
    CLIENT_USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FRESHNESS_FIELD_NUMBER: _ClassVar[int]
    MAX_BALANCE_AGE_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    access_token: str
    account_id: str
    amount: _money_pb2.Money
    rail: PaymentRail
    ruleset_key: str
    user_present: bool
    is_recurring: bool
    client_user_id: str
    user: PaymentUser
    device: PaymentDevice
    balance_freshness: BalanceFreshness
    max_balance_age: _duration_pb2.Duration
    def __init__(self, client_transaction_id: _Optional[str] = ..., access_token: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., rail: _Optional[_Union[PaymentRail, str]] = ..., ruleset_key: _Optional[str] = ..., user_present: _Optional[bool] = ..., is_recurring: _Optional[bool] = ..., client_user_id: _Optional[str] = ..., user: _Optional[_Union[PaymentUser, _Mapping]] = ..., device: _Optional[_Union[PaymentDevice, _Mapping]] = ..., balance_freshness: _Optional[_Union[BalanceFreshness, str]] = ..., max_balance_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class EvaluatePaymentResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class EvaluatePaymentsRequest(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: EvaluatePaymentRequest
    def __init__(self, payment: _Optional[_Union[EvaluatePaymentRequest, _Mapping]] = ...) -> None: ...

class EvaluatePaymentsResponse(_message.Message):
    __slots__ = ("client_transaction_id", "index", "decision", "error")
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    index: int
    decision: Decision
    error: _status_pb2.Status
    def __init__(self, client_transaction_id: _Optional[str] = ..., index: _Optional[int] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("client_transaction_id",)
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    def __init__(self, client_transaction_id: _Optional[str] = ...) -> None: ...

class GetDecisionResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class ReportDecisionRequest(_message.Message):
    __slots__ = ("client_transaction_id", "initiated", "days_funds_on_hold", "decision_outcome", "payment_method", "amount_instantly_available", "submit_time")
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    INITIATED_FIELD_NUMBER: _ClassVar[int]
    DAYS_FUNDS_ON_HOLD_FIELD_NUMBER: _ClassVar[int]
    DECISION_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_INSTANTLY_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    initiated: bool
    days_funds_on_hold: int
    decision_outcome: DecisionOutcome
    payment_method: PaymentMethod
    amount_instantly_available: _money_pb2.Money
    submit_time: _timestamp_pb2.Timestamp
    def __init__(self, client_transaction_id: _Optional[str] = ..., initiated: _Optional[bool] = ..., days_funds_on_hold: _Optional[int] = ..., decision_outcome: _Optional[_Union[DecisionOutcome, str]] = ..., payment_method: _Optional[_Union[PaymentMethod, str]] = ..., amount_instantly_available: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportDecisionResponse(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: ReportDelivery
    def __init__(self, delivery: _Optional[_Union[ReportDelivery, _Mapping]] = ...) -> None: ...

class ReportReturnRequest(_message.Message):
    __slots__ = ("client_transaction_id", "return_code", "return_time")
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    RETURN_TIME_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    return_code: str
    return_time: _timestamp_pb2.Timestamp
    def __init__(self, client_transaction_id: _Optional[str] = ..., return_code: _Optional[str] = ..., return_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportReturnResponse(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: ReportDelivery
    def __init__(self, delivery: _Optional[_Union[ReportDelivery, _Mapping]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("client_transaction_id", "result", "source", "rail", "amount", "reasons", "triggered_rule", "requested_ruleset_key", "applied_ruleset_key", "scores", "plaid_warnings", "balance", "realtime_balance", "plaid_calls", "plaid_request_ids", "evaluate_time", "duration_ms", "replayed", "degraded", "degraded_cause", "reports", "core_attributes")
    CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RAIL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_RULE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_RULESET_KEY_FIELD_NUMBER: _ClassVar[int]
    APPLIED_RULESET_KEY_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    PLAID_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REALTIME_BALANCE_FIELD_NUMBER: _ClassVar[int]
    PLAID_CALLS_FIELD_NUMBER: _ClassVar[int]
    PLAID_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_CAUSE_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    CORE_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    client_transaction_id: str
    result: DecisionResult
    source: DecisionSource
    rail: PaymentRail
    amount: _money_pb2.Money
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReason]
    triggered_rule: TriggeredRule
    requested_ruleset_key: str
    applied_ruleset_key: str
    scores: SignalScores
    plaid_warnings: _containers.RepeatedCompositeFieldContainer[PlaidWarning]
    balance: BalanceEvidence
    realtime_balance: RealtimeBalance
    plaid_calls: _containers.RepeatedCompositeFieldContainer[PlaidCall]
    plaid_request_ids: _containers.RepeatedScalarFieldContainer[str]
    evaluate_time: _timestamp_pb2.Timestamp
    duration_ms: int
    replayed: bool
    degraded: bool
    degraded_cause: DegradedCause
    reports: _containers.RepeatedCompositeFieldContainer[ReportDelivery]
    core_attributes: _struct_pb2.Struct
    def __init__(self, client_transaction_id: _Optional[str] = ..., result: _Optional[_Union[DecisionResult, str]] = ..., source: _Optional[_Union[DecisionSource, str]] = ..., rail: _Optional[_Union[PaymentRail, str]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[DecisionReason, _Mapping]]] = ..., triggered_rule: _Optional[_Union[TriggeredRule, _Mapping]] = ..., requested_ruleset_key: _Optional[str] = ..., applied_ruleset_key: _Optional[str] = ..., scores: _Optional[_Union[SignalScores, _Mapping]] = ..., plaid_warnings: _Optional[_Iterable[_Union[PlaidWarning, _Mapping]]] = ..., balance: _Optional[_Union[BalanceEvidence, _Mapping]] = ..., realtime_balance: _Optional[_Union[RealtimeBalance, _Mapping]] = ..., plaid_calls: _Optional[_Iterable[_Union[PlaidCall, _Mapping]]] = ..., plaid_request_ids: _Optional[_Iterable[str]] = ..., evaluate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., replayed: _Optional[bool] = ..., degraded: _Optional[bool] = ..., degraded_cause: _Optional[_Union[DegradedCause, _Mapping]] = ..., reports: _Optional[_Iterable[_Union[ReportDelivery, _Mapping]]] = ..., core_attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DecisionReason(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TriggeredRule(_message.Message):
    __slots__ = ("custom_action_key", "internal_note")
    CUSTOM_ACTION_KEY_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_NOTE_FIELD_NUMBER: _ClassVar[int]
    custom_action_key: str
    internal_note: str
    def __init__(self, custom_action_key: _Optional[str] = ..., internal_note: _Optional[str] = ...) -> None: ...

class SignalScores(_message.Message):
    __slots__ = ("customer_initiated_return_risk", "bank_initiated_return_risk")
    CUSTOMER_INITIATED_RETURN_RISK_FIELD_NUMBER: _ClassVar[int]
    BANK_INITIATED_RETURN_RISK_FIELD_NUMBER: _ClassVar[int]
    customer_initiated_return_risk: ReturnRiskScore
    bank_initiated_return_risk: ReturnRiskScore
    def __init__(self, customer_initiated_return_risk: _Optional[_Union[ReturnRiskScore, _Mapping]] = ..., bank_initiated_return_risk: _Optional[_Union[ReturnRiskScore, _Mapping]] = ...) -> None: ...

class ReturnRiskScore(_message.Message):
    __slots__ = ("score", "risk_tier")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    score: int
    risk_tier: int
    def __init__(self, score: _Optional[int] = ..., risk_tier: _Optional[int] = ...) -> None: ...

class PlaidWarning(_message.Message):
    __slots__ = ("warning_type", "warning_code", "warning_message")
    WARNING_TYPE_FIELD_NUMBER: _ClassVar[int]
    WARNING_CODE_FIELD_NUMBER: _ClassVar[int]
    WARNING_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    warning_type: str
    warning_code: str
    warning_message: str
    def __init__(self, warning_type: _Optional[str] = ..., warning_code: _Optional[str] = ..., warning_message: _Optional[str] = ...) -> None: ...

class BalanceEvidence(_message.Message):
    __slots__ = ("available", "current", "currency_code", "as_of_time", "as_of_source", "age_seconds")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_SOURCE_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    available: _money_pb2.Money
    current: _money_pb2.Money
    currency_code: str
    as_of_time: _timestamp_pb2.Timestamp
    as_of_source: BalanceTimeSource
    age_seconds: int
    def __init__(self, available: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., current: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., currency_code: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of_source: _Optional[_Union[BalanceTimeSource, str]] = ..., age_seconds: _Optional[int] = ...) -> None: ...

class RealtimeBalance(_message.Message):
    __slots__ = ("fetched", "basis", "warnings", "attempted", "reused_balance_age", "reused_from_client_transaction_id")
    FETCHED_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTED_FIELD_NUMBER: _ClassVar[int]
    REUSED_BALANCE_AGE_FIELD_NUMBER: _ClassVar[int]
    REUSED_FROM_CLIENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    fetched: bool
    basis: RealtimeBalanceBasis
    warnings: _containers.RepeatedCompositeFieldContainer[RealtimeBalanceWarning]
    attempted: bool
    reused_balance_age: _duration_pb2.Duration
    reused_from_client_transaction_id: str
    def __init__(self, fetched: _Optional[bool] = ..., basis: _Optional[_Union[RealtimeBalanceBasis, str]] = ..., warnings: _Optional[_Iterable[_Union[RealtimeBalanceWarning, _Mapping]]] = ..., attempted: _Optional[bool] = ..., reused_balance_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reused_from_client_transaction_id: _Optional[str] = ...) -> None: ...

class RealtimeBalanceWarning(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PlaidCall(_message.Message):
    __slots__ = ("endpoint", "request_id", "http_status", "error_code", "duration_ms", "attempt")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    request_id: str
    http_status: int
    error_code: str
    duration_ms: int
    attempt: int
    def __init__(self, endpoint: _Optional[str] = ..., request_id: _Optional[str] = ..., http_status: _Optional[int] = ..., error_code: _Optional[str] = ..., duration_ms: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class DegradedCause(_message.Message):
    __slots__ = ("failure_class", "error_code", "message")
    FAILURE_CLASS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    failure_class: str
    error_code: str
    message: str
    def __init__(self, failure_class: _Optional[str] = ..., error_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ReportDelivery(_message.Message):
    __slots__ = ("kind", "status", "attempt_count", "last_error_code", "accept_time", "deliver_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    DELIVER_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    status: DeliveryStatus
    attempt_count: int
    last_error_code: str
    accept_time: _timestamp_pb2.Timestamp
    deliver_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., attempt_count: _Optional[int] = ..., last_error_code: _Optional[str] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deliver_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentUser(_message.Message):
    __slots__ = ("name", "phone_number", "email_address", "address")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: PersonName
    phone_number: str
    email_address: str
    address: PostalAddress
    def __init__(self, name: _Optional[_Union[PersonName, _Mapping]] = ..., phone_number: _Optional[str] = ..., email_address: _Optional[str] = ..., address: _Optional[_Union[PostalAddress, _Mapping]] = ...) -> None: ...

class PersonName(_message.Message):
    __slots__ = ("prefix", "given_name", "middle_name", "family_name", "suffix")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    MIDDLE_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    given_name: str
    middle_name: str
    family_name: str
    suffix: str
    def __init__(self, prefix: _Optional[str] = ..., given_name: _Optional[str] = ..., middle_name: _Optional[str] = ..., family_name: _Optional[str] = ..., suffix: _Optional[str] = ...) -> None: ...

class PostalAddress(_message.Message):
    __slots__ = ("street", "city", "region", "postal_code", "country")
    STREET_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    def __init__(self, street: _Optional[str] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class PaymentDevice(_message.Message):
    __slots__ = ("ip_address", "user_agent")
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    ip_address: str
    user_agent: str
    def __init__(self, ip_address: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...
