# syntax=docker/dockerfile:1
# Build a wheel with its dependencies, then run it as a non-root user in a slim image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home achrisk
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels ach-risk && rm -rf /wheels
USER 10001
ENV ACH_RISK_LISTEN=0.0.0.0:50051 \
    ACH_RISK_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 50051
ENTRYPOINT ["ach-risk"]
CMD ["serve"]
