# syntax=docker/dockerfile:1
# ach-risk: build the wheel in one stage, run it from a virtualenv in a slim, non-root image.
#   docker build -t ach-risk:0.1.0 .
# Reproducible: the base is pinned by digest (one spelling, both stages) and every dependency
# by version and hash (requirements/runtime.lock, installed with --require-hashes). To move the
# base, resolve the tag's current digest where a registry is reachable and replace it here:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
# (docs/deployment.md, "Reproducible builds").
ARG PYTHON_BASE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Everything the wheel is built from (pyproject.toml names README.md as the long description
# and LICENSE as the license file, which the wheel carries).
COPY pyproject.toml README.md LICENSE ./
# The dependencies first, from the locks alone: this layer is rebuilt only when a lock changes.
# The build tools (requirements/build.lock) go into the build stage's own Python; every runtime
# dependency becomes a wheel, checked against its hash: plaid-python publishes only a source
# archive, which is built here with those pinned tools (no build isolation, which would fetch
# setuptools unpinned). The virtualenv, without pip, takes the wheels and nothing else; the
# runtime stage copies it.
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: --no-deps \
       -r requirements/build.lock \
    && pip wheel --no-cache-dir --require-hashes --no-deps --no-build-isolation \
       --wheel-dir /wheels -r requirements/runtime.lock \
    && python -m venv --without-pip /opt/venv \
    && pip install --no-cache-dir --python /opt/venv/bin/python --no-index --no-deps /wheels/*.whl
COPY service ./service
# The Plaid emulator, a package of the same wheel (the compose stack runs it from this image).
COPY plaid_emulator ./plaid_emulator
# The wheel adds no dependency of its own (--no-deps: the runtime lock holds the `otel` extra's
# packages too, so the image can trace; docs/tracing.md); `pip check` fails the build if the lock
# misses one that pyproject.toml names.
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist . \
    && pip install --no-cache-dir --python /opt/venv/bin/python --no-deps /dist/ach_risk-*.whl \
    && pip --python /opt/venv/bin/python check

FROM ${PYTHON_BASE}
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
