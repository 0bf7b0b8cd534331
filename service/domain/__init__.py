"""The decision core: what a Plaid answer or a balance means for a payment.

Pure functions and frozen values: verdicts from scores, rulesets and balances, the
real-time balance report, degraded-mode rules, exact money. Imports only the standard
library and its own modules; no I/O, no clock, no randomness (docs/architecture.md).
"""
