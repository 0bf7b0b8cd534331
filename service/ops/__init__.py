"""Running the process: structured logs, Prometheus metrics, readiness and the health
check, garbage-collector tuning, and a worker's side of `serve --workers N` (its link to
the supervisor, the merged metrics). Imports service.app and service.domain only.
"""
