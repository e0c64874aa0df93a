"""OpenTelemetry spans for the steps of a command, one trace per command (ADR 0020).

A command's trace id is the one Tidings logs and stores in the event envelope (``traceId``),
so every process that sees the event can continue its trace without a header: each step's
span id is derived from the trace id and the step's name, and its parent is the previous
step's. The steps, in order:

    tidings.command   the gateway handles the client's frame (until its reply)
    tidings.decide    the log's single writer decides and commits it (the embedded log; the
                      command processor)
    tidings.project   the event is projected (embedded: state and inboxes at once;
                      distributed: stage 1, the events topic)
    tidings.inbox     distributed stage 2 appends it to the users' inboxes (inbox topic)
    tidings.deliver   a gateway fans it out to its connections (each delivering gateway)
    tidings.read      a member marks it read (a read ack, at the gateway that took it)

Off by default (``TIDINGS_TRACING``): then :func:`step` is one check of a module flag and
nothing else. On, spans go to an OTLP/HTTP endpoint in batches, off the event loop's path.
At-least-once stages may handle an event twice after a crash: its step is then reported
twice with the same span id.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = [
    "STEPS",
    "configure",
    "disable",
    "enabled",
    "span_id",
    "step",
    "steps",
    "traceparent",
]

STEPS = ("command", "decide", "project", "inbox", "deliver", "read")

_enabled = False
_tracer: Any = None
_wanted: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "tidings_trace_ids", default=None
)


def enabled() -> bool:
    return _enabled


def configure(service: str, endpoint: str, exporter: Any = None) -> None:
    """Turns tracing on for this process: spans named by ``service`` (``tidings-gateway``,
    ``tidings-processor``) go to the OTLP/HTTP ``endpoint``, or to ``exporter`` (tests)."""
    global _enabled, _tracer
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:  # the optional dependency is missing
        raise RuntimeError(
            "TIDINGS_TRACING needs OpenTelemetry: pip install 'tidings[tracing]'"
        ) from exc
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class StepIds(RandomIdGenerator):
        """Ids for the span :func:`step` is starting: its trace's and its derived one."""

        def generate_trace_id(self) -> int:
            wanted = _wanted.get()
            return wanted[0] if wanted else super().generate_trace_id()

        def generate_span_id(self) -> int:
            wanted = _wanted.get()
            return wanted[1] if wanted else super().generate_span_id()

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), id_generator=StepIds()
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _tracer = provider.get_tracer("tidings")
    _enabled = True


def disable() -> None:
    global _enabled, _tracer
    _enabled, _tracer = False, None


def steps(
    name: str, trace_ids: Iterable[str], after: str | None
) -> contextlib.AbstractContextManager[None]:
    """One span of step ``name`` per trace (a batch's commands or events); ``trace_ids`` is
    not even iterated while tracing is off."""
    return _steps(name, trace_ids, after) if _enabled else _OFF


@contextlib.contextmanager
def _steps(name: str, trace_ids: Iterable[str], after: str | None) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for trace_id in dict.fromkeys(trace_ids):
            stack.enter_context(step(name, trace_id, after))
        yield


def traceparent(trace_id: str, step: str) -> list[tuple[str, bytes]]:
    """Kafka headers carrying W3C trace context for the record ``step`` produced (empty with
    tracing off): what OpenTelemetry-instrumented consumers of the topics look for. Tidings'
    own processes do not need it (the envelope has the trace id)."""
    if not _enabled or len(trace_id) != 32:
        return []
    return [("traceparent", f"00-{trace_id}-{span_id(trace_id, step):016x}-01".encode())]


def span_id(trace_id: str, step: str) -> int:
    """The span id of ``step`` in the trace: the same in every process."""
    digest = hashlib.blake2b(f"{trace_id}:{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def step(
    name: str,
    trace_id: str,
    after: str | None,
    attributes: Mapping[str, Any] | None = None,
    *,
    shared: bool = True,
) -> contextlib.AbstractContextManager[None]:
    """A span of step ``name`` of the trace, child of step ``after`` (None: the root); its
    id is the step's derived one unless not ``shared`` (a step that several processes take,
    such as delivering: nothing follows it). Does nothing unless tracing is on, or when the
    trace id is not one (an event from before traces)."""
    if not _enabled or len(trace_id) != 32:
        return _OFF
    return _step(name, trace_id, after, attributes, shared)


_OFF = contextlib.nullcontext()
"""What a step is while tracing is off: entering it does nothing, and nothing is made."""


@contextlib.contextmanager
def _step(
    name: str,
    trace_id: str,
    after: str | None,
    attributes: Mapping[str, Any] | None,
    shared: bool,
) -> Iterator[None]:
    from opentelemetry import trace

    trace_number = int(trace_id, 16)
    parent = None
    if after is not None:
        remote = trace.SpanContext(
            trace_number,
            span_id(trace_id, after),
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
        parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    token = _wanted.set((trace_number, span_id(trace_id, name)) if shared else None)
    try:
        span = _tracer.start_span(f"tidings.{name}", context=parent, attributes=attributes)
    finally:
        _wanted.reset(token)
    try:
        yield
    finally:
        span.end()
