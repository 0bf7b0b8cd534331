"""Which OTEL_* variables turn tracing on, and what they may ask for (docs/tracing.md)."""

from __future__ import annotations

import re
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from service.ops import tracing

ENDPOINT = "http://127.0.0.1:4317"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_RESOURCE_ATTRIBUTES": "a=b"}, False),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        (
            {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT},
            False,
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_what_turns_tracing_on(environ: dict[str, str], on: bool) -> None:
    assert tracing.requested(environ) is on
    if not on:
        assert tracing.start(environ) is None
        tracing.check(environ)  # nothing asked, nothing to refuse


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        ({"OTEL_TRACES_EXPORTER": "otlp,jaeger"}, "jaeger"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            "http/protobuf",
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
            },
            "http/json",
        ),
    ],
)
def test_what_this_install_cannot_export_is_refused(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(tracing.TracingUnavailable, match=named):
        tracing.check(environ)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_SAMPLER": "bogus"}, "OTEL_TRACES_SAMPLER='bogus'"),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "jaeger_remote"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "abc"},
            "a ratio from 0 to 1",
        ),
        (
            {
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "1.5",
            },
            "'1.5'",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "nan"},
            "nan",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "::not a url::"}, "not host:port"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector:4317"}, "http://host:port"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:99999"}, "http://host:port"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://:4317"}, "http://host:port"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector",
            },
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
    ],
)
def test_a_sampler_or_endpoint_the_sdk_would_ignore_is_refused(
    environ: dict[str, str], named: str
) -> None:
    """The SDK would fall back to sampling every call, or fail at every export, after
    one line on stderr: the service refuses to start instead."""
    with pytest.raises(tracing.TracingUnavailable, match=re.escape(named)):
        tracing.check({"OTEL_TRACES_EXPORTER": "otlp", **environ})


@pytest.mark.parametrize(
    "environ",
    [
        {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        },
        {"OTEL_TRACES_SAMPLER": "ALWAYS_OFF"},
        {"OTEL_TRACES_SAMPLER": "traceidratio"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4317"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4317"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "10.0.0.7:4317"},
    ],
)
def test_what_the_sdk_understands_passes(environ: dict[str, str]) -> None:
    tracing.check({"OTEL_TRACES_EXPORTER": "otlp", **environ})


def test_the_started_line_names_where_spans_go_without_credentials() -> None:
    described = tracing.describe(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://user:s3cret@collector:4317/v1?key=k",
            "OTEL_TRACES_EXPORTER": "otlp,console",
            "OTEL_TRACES_SAMPLER": "TraceIdRatio",
        }
    )
    assert described == {
        "exporters": ["otlp", "console"],
        "sampler": "traceidratio",
        "endpoint": "https://collector:4317",
    }
    assert tracing.describe({"OTEL_TRACES_EXPORTER": "console"}) == {
        "exporters": ["console"],
        "sampler": "parentbased_always_on",
    }


def test_none_beside_an_exporter_is_ignored() -> None:
    environ = {"OTEL_TRACES_EXPORTER": "none,console"}
    assert tracing.requested(environ)
    tracing.check(environ)


def test_the_grpc_protocol_and_both_exporters_pass() -> None:
    tracing.check(
        {
            "OTEL_TRACES_EXPORTER": "otlp,console",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    )


@pytest.mark.parametrize(
    "module", ["opentelemetry.sdk", "opentelemetry.instrumentation.grpc"]
)
def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # Python's way to block an import
    with pytest.raises(tracing.TracingUnavailable, match=r"ach-risk\[otel\]"):
        tracing.check({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT})
    tracing.check({})  # not asked for: the base install is enough


def test_a_module_whose_parent_package_is_missing_is_not_installed() -> None:
    """As the base install's opentelemetry.exporter.otlp.proto.grpc: no
    opentelemetry.exporter at all (find_spec raises rather than answer None)."""
    assert tracing._installed("opentelemetry.sdk")
    assert not tracing._installed("opentelemetry.no_such_package.grpc")
    assert not tracing._installed("opentelemetry.no_such_module")


@pytest.mark.parametrize(
    ("environ", "service_name"),
    [
        ({}, "ach-risk"),
        ({"OTEL_SERVICE_NAME": "risk-eu"}, "risk-eu"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=risk-us,team=payments"}, "risk-us"),
    ],
)
def test_the_service_name_defaults_to_ach_risk(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], service_name: str
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # the SDK reads the process's environment
    exporter = InMemorySpanExporter()
    traced = tracing.to_exporter(exporter)
    traced.tracer("test").start_span("one").end()
    traced.shutdown()
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == service_name


def test_the_sampler_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    exporter = InMemorySpanExporter()
    traced = tracing.to_exporter(exporter)
    span = traced.tracer("test").start_span("never sampled")
    assert not span.is_recording()
    span.end()
    assert exporter.get_finished_spans() == ()


def test_log_lines_carry_the_current_spans_ids() -> None:
    exporter = InMemorySpanExporter()
    tracer = tracing.to_exporter(exporter).tracer("test")
    assert tracing.add_trace_ids(None, "info", {}) == {}
    with tracer.start_as_current_span("current") as span:
        event = tracing.add_trace_ids(None, "info", {"event": "x"})
    context = span.get_span_context()
    assert event["trace_id"] == f"{context.trace_id:032x}"
    assert event["span_id"] == trace.format_span_id(context.span_id)
    assert len(event["span_id"]) == 16
