"""The use cases and the ports they own.

evaluate.py (EvaluatePayment: claim in the ledger, decide, save), decide.py (ask Plaid,
let the domain decide, or degrade), reports.py (read decisions back, accept reports),
outbox.py (deliver reports to Plaid). ports.py holds the Protocols the adapters
implement and the values that cross them; errors.py the exceptions api/status.py maps.
Imports service.domain only; never an adapter, gRPC, HTTP or SQL (docs/architecture.md).
"""
