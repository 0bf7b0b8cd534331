# syntax=docker/dockerfile:1
# ach-risk: build the wheel in one stage, run it from a virtualenv in a slim, non-root image.
#   docker build -t ach-risk:0.1.0 .
# Base images are pinned by tag; pin them by digest too where your registry can resolve one
# (FROM python:3.11-slim@sha256:...).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Everything the wheel is built from (pyproject.toml names README.md as the long description
# and LICENSE as the license file, which the wheel carries).
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
# The Plaid emulator, a package of the same wheel (the compose stack runs it from this image).
COPY plaid_emulator ./plaid_emulator
# A virtualenv without pip: the runtime stage gets the service and its dependencies only.
# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed.
RUN python -m venv --without-pip /opt/venv \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && pip install --no-cache-dir --python /opt/venv/bin/python "$(echo /dist/ach_risk-*.whl)[otel]"

FROM python:3.11-slim
LABEL org.opencontainers.image.title="ach-risk" \
      org.opencontainers.image.description="gRPC risk decisions for bank-funded payments, backed by Plaid" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed UID/GID, so Kubernetes' runAsNonRoot can verify it and volumes can be owned by it.
RUN groupadd --system --gid 10001 achrisk \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin achrisk
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The default SQLite ledger is ./var/ach-risk.db; production uses PostgreSQL instead.
RUN install --directory --owner=10001 --group=10001 --mode=0750 /app/var
ENV PATH="/opt/venv/bin:${PATH}" \
    ACH_RISK_LISTEN=0.0.0.0:50051 \
    ACH_RISK_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
# gRPC (with grpc.health.v1 and reflection), then Prometheus metrics at /metrics.
EXPOSE 50051 9464
# Liveness: the process answers (NOT_SERVING only while it drains); a database or Plaid
# outage makes `ach-risk health` (readiness) fail, but not this check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["ach-risk", "health", "--service", "liveness"]
# SIGTERM: health turns NOT_SERVING, in-flight calls drain (grace 10 s), exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ach-risk"]
# One worker process, one core. For N cores set ACH_RISK_WORKERS=N (or `serve --workers N`)
# equal to the container's CPU limit: `auto` counts the cores of the affinity mask, which a
# CPU quota (--cpus, a Kubernetes limit) does not narrow (docs/workers.md).
CMD ["serve", "--metrics-listen", "0.0.0.0:9464"]
