"""Tracing embedded: one send is one connected trace (command, decide, project, deliver), its
trace id the envelope's; with tracing off nothing is recorded. Distributed, across
processes: tests/e2e/test_tracing.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from api.settings import Settings
from streams import tracing
from tests.inprocess.harness import Ws, shared_room


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure("tidings-test", "", exporter)
    yield exporter
    tracing.disable()


def chain(found: list[ReadableSpan], trace_id: str) -> dict[str, ReadableSpan]:
    """The trace's spans by step name (``tidings.command`` -> ``command``)."""
    mine = [s for s in found if s.context is not None and f"{s.context.trace_id:032x}" == trace_id]
    return {s.name.removeprefix("tidings."): s for s in mine}


def test_a_send_is_one_connected_trace_from_command_to_delivery(
    spans: InMemorySpanExporter,
    client: TestClient,
    settings: Settings,
    connect: Callable[..., Ws],
) -> None:
    room = shared_room(client, settings, "alice", "bob")
    bob = connect("bob")
    alice = connect("alice")
    sent = alice.command("send", roomId=room, text="traced")["send"]["event"]
    bob.push("event")
    trace_id = sent["traceId"]
    assert len(trace_id) == 32

    steps = chain(list(spans.get_finished_spans()), trace_id)
    for _ in range(100):  # the delivery span ends after the push was queued
        if "deliver" in steps:
            break
        steps = chain(list(spans.get_finished_spans()), trace_id)
    assert set(steps) == {"command", "decide", "project", "deliver"}, steps
    parents = {name: span.parent.span_id if span.parent else None for name, span in steps.items()}
    ids = {name: span.context.span_id for name, span in steps.items() if span.context}
    assert parents["command"] is None
    assert parents["decide"] == ids["command"]
    assert parents["project"] == ids["decide"]
    assert parents["deliver"] == ids["project"]
    assert steps["command"].attributes == {"command": "PostMessage"}
    for span in steps.values():
        assert span.start_time is not None and span.end_time is not None
        assert span.end_time >= span.start_time
    assert steps["decide"].start_time >= steps["command"].start_time  # type: ignore[operator]

    bob.command("ack", roomId=room, kind="ACK_KIND_READ", upTo=sent["position"])
    read = chain(list(spans.get_finished_spans()), trace_id)["read"]
    assert read.parent is not None and read.parent.span_id == ids["project"]
    assert read.attributes == {"reader": "bob"}


def test_with_tracing_off_nothing_is_recorded(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    exporter = InMemorySpanExporter()
    tracing.configure("tidings-test", "", exporter)
    tracing.disable()
    room = shared_room(client, settings, "alice")
    connect("alice").command("send", roomId=room, text="untraced")
    assert exporter.get_finished_spans() == ()
    assert not tracing.enabled()
