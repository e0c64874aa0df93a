"""Tracing end to end, in both modes: real servers export OTLP/HTTP to a receiver in this
test, and one send is one connected trace across processes: the gateway's command, the
writer's decision, the projection stages and the delivering gateway."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, Server, eventually, running
from tests.e2e.server import DistributedStack
from tests.infra import KAFKA


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on loopback, keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for s in scope.spans:
                    self.server.spans.append(
                        Span(
                            service,
                            s.name,
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                        )
                    )
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def traced(
    request: pytest.FixtureRequest, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = {
        **FAST,
        "TIDINGS_TRACING": "true",
        "TIDINGS_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s (default 5 s)
    }
    workdir: Path = tmp_path_factory.mktemp(f"traced-{request.param}")
    yield from running(request.param, workdir, env)


async def test_a_send_is_one_trace_across_every_process(traced: Server, receiver: Receiver) -> None:
    distributed = isinstance(traced, DistributedStack)
    room = Rest(traced, "tess").create_room()
    Rest(traced, "tess").post(f"/v1/rooms/{room}/members", {"userId": "tom"})
    tom, _ = await WsClient.connect(traced.ws_urls[-1], traced.token("tom"))
    tess, _ = await WsClient.connect(traced.ws_urls[0], traced.token("tess"))
    try:
        reply = await tess.request("send", {"roomId": room, "text": "follow me"})
        trace_id = reply["send"]["event"]["traceId"]
        await tom.next_message("tess")
        position = reply["send"]["event"]["position"]
        read = {"roomId": room, "kind": "ACK_KIND_READ", "upTo": position}
        assert "ack" in await tom.request("ack", read)
    finally:
        await tess.close()
        await tom.close()

    wanted = ["command", "decide", "project", *(["inbox"] if distributed else []), "deliver"]
    everything = [*wanted, "read"]

    def trace() -> dict[str, Span]:
        found = {
            s.name.removeprefix("tidings."): s for s in receiver.spans if s.trace_id == trace_id
        }
        return found if set(everything) <= set(found) else {}

    steps = await eventually(trace, 30)
    assert steps["command"].parent_id == ""
    for before, after in itertools.pairwise(wanted):
        assert steps[after].parent_id == steps[before].span_id, (before, after, steps)
    assert steps["read"].parent_id == steps["project"].span_id  # the receipt joins the trace
    services = {name: span.service for name, span in steps.items()}
    if isinstance(traced, DistributedStack):
        assert await _traceparent_of(traced, trace_id) == steps["decide"].span_id
        assert services == {
            "command": "tidings-gateway",
            "decide": "tidings-processor",
            "project": "tidings-processor",
            "inbox": "tidings-processor",
            "deliver": "tidings-gateway",
            "read": "tidings-gateway",
        }
    else:
        assert set(services.values()) == {"tidings-gateway"}
    for name in everything:
        span = steps[name]
        print(
            f"{name:8} {span.service:18} {(span.end_ns - span.start_ns) / 1e6:8.2f} ms "
            f"(starts {(span.start_ns - steps['command'].start_ns) / 1e6:7.2f} ms in)"
        )


async def _traceparent_of(stack: DistributedStack, trace_id: str) -> str:
    """The parent span id the ``traceparent`` header of the trace's event record names (for
    OpenTelemetry-instrumented consumers of the events topic)."""
    topic = f"{stack.env['TIDINGS_TOPIC_PREFIX']}.events"
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, isolation_level="read_committed")
    await consumer.start()
    try:
        for partition in sorted(consumer.partitions_for_topic(topic) or {0, 1}):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for record in batch.get(tp, []):
                headers = dict(record.headers)
                parent = headers.get("traceparent", b"").decode()
                if parent.startswith(f"00-{trace_id}-"):
                    return str(parent.split("-")[2])
    finally:
        await consumer.stop()
    raise AssertionError(f"no event record with a traceparent of {trace_id}")
