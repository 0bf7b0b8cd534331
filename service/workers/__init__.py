"""`ach-risk serve --workers N`: the supervisor and its worker processes. Composition
level, beside service/main.py, and never imports it nor gRPC: workers are new processes
(docs/workers.md)."""

from service.workers.supervisor import supervise

__all__ = ["supervise"]
