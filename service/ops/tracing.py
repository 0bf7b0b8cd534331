"""OpenTelemetry tracing: off unless the standard OTEL_* variables ask for it (docs/tracing.md).

The base install carries only `opentelemetry-api` (no SDK, no exporter): the adapters
take a Tracer when tracing is on and None when it is off, so an untraced call costs one
`is None` test. The SDK, the OTLP exporter and the gRPC server instrumentation come with
the `ach-risk[otel]` extra and are imported here only, when tracing is on.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from opentelemetry import trace

if TYPE_CHECKING:  # the extra's types, for mypy only: nothing is imported at run time
    import grpc
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

EXTRA = "ach-risk[otel]"
DEFAULT_SERVICE_NAME = "ach-risk"
# The extra's modules: one missing means the extra is not installed.
_EXTRA_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.grpc",
    "opentelemetry.instrumentation.grpc",
)
_EXPORTERS = ("otlp", "console")
# The samplers the SDK knows by name; an unknown one it would replace by its default after
# a bare line on stderr, so a typo would sample every call. Refused at start instead.
_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
_HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:[0-9]{1,5}|\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}")
# Probes and grpcurl call these many times a minute; a span each would be noise.
UNTRACED_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.")


class TracingUnavailable(Exception):
    """The OTEL_* variables ask for something this install cannot do."""


def requested(environ: Mapping[str, str]) -> bool:
    """Whether the environment turns tracing on: OTEL_SDK_DISABLED=true never; else
    OTEL_TRACES_EXPORTER set to anything but `none`, or an OTLP endpoint set (with
    OTEL_TRACES_EXPORTER unset). Nothing set: off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = _exporter_names(environ)
    if exporters is not None:
        return exporters != ["none"]
    return any(
        environ.get(name, "").strip()
        for name in (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        )
    )


def check(environ: Mapping[str, str]) -> None:
    """Raise TracingUnavailable if tracing is requested but cannot run as asked: the
    extra is not installed, an exporter or an OTLP protocol we do not ship. Imports
    nothing (the supervisor of --workers N calls it too)."""
    if not requested(environ):
        return
    missing = [m for m in _EXTRA_MODULES if not _installed(m)]
    if missing:
        raise TracingUnavailable(
            f"the OTEL_* variables turn tracing on, but the {EXTRA} extra is not "
            f"installed (no {missing[0]}): pip install '{EXTRA}', or unset them "
            "(or set OTEL_SDK_DISABLED=true)"
        )
    names = _exporter_names(environ) or ["otlp"]
    unknown = [e for e in names if e not in (*_EXPORTERS, "none")]
    if unknown:
        raise TracingUnavailable(
            f"OTEL_TRACES_EXPORTER={unknown[0]!r}: this service exports with "
            f"{' or '.join(_EXPORTERS)} (or none)"
        )
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    if protocol != "grpc":
        raise TracingUnavailable(
            f"OTLP protocol {protocol!r}: this service exports OTLP over grpc only "
            "(OTEL_EXPORTER_OTLP_PROTOCOL=grpc, the collector's port 4317)"
        )
    _check_sampler(environ)
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        if endpoint := environ.get(name, "").strip():
            _check_endpoint(name, endpoint)


def _check_sampler(environ: Mapping[str, str]) -> None:
    # As the SDK reads it: lower-cased, not stripped (" always_off" is no sampler to it).
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").lower()
    if sampler and sampler not in _SAMPLERS:
        raise TracingUnavailable(
            f"OTEL_TRACES_SAMPLER={sampler!r}: one of {', '.join(_SAMPLERS)}"
        )
    argument = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if sampler in _RATIO_SAMPLERS and argument:
        try:
            ratio = float(argument)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise TracingUnavailable(
                f"OTEL_TRACES_SAMPLER_ARG={argument!r}: a ratio from 0 to 1 for "
                f"{sampler} (0.1 samples one trace in ten)"
            )


def _check_endpoint(name: str, endpoint: str) -> None:
    """An OTLP/gRPC endpoint the exporter can dial: http(s)://host:port, or host:port."""
    if "://" not in endpoint:
        if _HOST_PORT.fullmatch(endpoint):
            return
        problem = "not host:port nor a URL"
    else:
        parts = urlsplit(endpoint)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme in ("http", "https") and parts.hostname and port != -1:
            return
        problem = "an OTLP/gRPC endpoint is http://host:port or https://host:port"
    raise TracingUnavailable(
        f"{name}: {problem} (for example http://otel-collector:4317)"
    )


def describe(environ: Mapping[str, str]) -> dict[str, object]:
    """What the tracing.started line says: the exporters, the sampler and where spans
    go (scheme, host and port only: a URL may carry credentials)."""
    exporters = [e for e in _exporter_names(environ) or ["otlp"] if e != "none"]
    described: dict[str, object] = {
        "exporters": exporters,
        "sampler": environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
        or "parentbased_always_on",
    }
    endpoint = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )
    if "otlp" in exporters:
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            port = f":{parts.port}" if parts.port else ""
            described["endpoint"] = f"{parts.scheme}://{parts.hostname}{port}"
        else:
            described["endpoint"] = endpoint or "http://localhost:4317"
    return described


class Tracing:
    """A configured tracer provider and what the service takes from it."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def tracer(self, name: str) -> trace.Tracer:
        return self._provider.get_tracer(name)

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """A SERVER span for every RPC but health checking and reflection, its parent
        the caller's W3C `traceparent` when the metadata carries one, and its gRPC
        status as the call ended. To run before every other interceptor."""
        from service.ops.span_status import RecordStatus

        return [self._spans(), RecordStatus()]

    def _spans(self) -> grpc.aio.ServerInterceptor:
        from opentelemetry.instrumentation.grpc import (
            aio_server_interceptor,
            filters,
        )

        untraced = filters.any_of(
            filters.service_name(UNTRACED_SERVICES[0]),
            filters.service_prefix(UNTRACED_SERVICES[1]),
        )
        interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(
            tracer_provider=self._provider, filter_=filters.negate(untraced)
        )
        return interceptor

    def shutdown(self) -> None:
        """Export what is still queued, then stop (after the server drained)."""
        self._provider.shutdown()


def start(environ: Mapping[str, str]) -> Tracing | None:
    """The process's tracing as the environment asks (None: off), installed as the
    global provider. Call check() first: this assumes it passed."""
    if not requested(environ):
        return None
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
    )

    provider = _provider()
    for exporter in _exporters(environ):
        # Batches on a thread of the SDK's own (OTEL_BSP_* tune it): the RPC never waits
        # for the collector.
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return Tracing(provider)


def to_exporter(exporter: SpanExporter) -> Tracing:
    """Tracing into `exporter`, span by span as each ends, not installed globally: for
    a test's in-memory exporter. The resource and sampler still follow OTEL_*."""
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
    )

    provider = _provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider)


def add_trace_ids(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """A log processor: the current span's trace_id and span_id, as OTel renders them
    (32 and 16 hex digits), on every line written while a span is current."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = trace.format_trace_id(context.trace_id)
        event["span_id"] = trace.format_span_id(context.span_id)
    return event


def _installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (its parent packages
    are: for ours, namespace packages of the API, nothing that runs)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing too
        return False


def _provider() -> TracerProvider:
    """The SDK reads OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME and the sampler
    variables (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) itself."""
    from opentelemetry.sdk.resources import (
        SERVICE_NAME,
        Resource,
    )
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create()
    name = resource.attributes.get(SERVICE_NAME)
    if not isinstance(name, str) or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return TracerProvider(resource=resource)


def _exporters(environ: Mapping[str, str]) -> list[Any]:
    exporters: list[Any] = []
    for name in _exporter_names(environ) or ["otlp"]:
        if name == "console":
            from opentelemetry.sdk.trace.export import (
                ConsoleSpanExporter,
            )

            # stderr: stdout carries the JSON log lines.
            exporters.append(ConsoleSpanExporter(out=sys.stderr))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter,
            )

            # Endpoint, headers, TLS, timeout and compression: the OTEL_EXPORTER_OTLP_*
            # variables, read by the exporter.
            exporters.append(OTLPSpanExporter())
    return exporters


def _exporter_names(environ: Mapping[str, str]) -> list[str] | None:
    raw = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not raw:
        return None
    return [name.strip().lower() for name in raw.split(",") if name.strip()]
