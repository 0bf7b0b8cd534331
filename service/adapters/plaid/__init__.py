"""Plaid over HTTP: requests built with plaid-python's models, sent on one aiohttp pool,
retried within the caller's deadline, answers parsed leniently into domain values.

signals.py is the SignalSource port (evaluate, balance, credentials probe); reports.py
the ReportSender. The Plaid behaviour they rely on is in docs/plaid-behaviour.md.
"""
