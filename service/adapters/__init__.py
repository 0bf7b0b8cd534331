"""The adapters: the ports of service.app implemented against the outside world.

plaid/ talks to Plaid over HTTP; store/ keeps the ledger and the outbox in SQLite or
PostgreSQL. Adapters import service.app and service.domain, never each other's
siblings' internals, the API or the configuration (docs/architecture.md).
"""
