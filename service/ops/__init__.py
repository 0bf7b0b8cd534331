"""Running the process: structured logs, Prometheus metrics, readiness and the health
check, garbage-collector tuning. Imports service.app and service.domain only.
"""
