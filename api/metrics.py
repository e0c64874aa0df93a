"""Prometheus metrics, served at /metrics (docs/operations.md, "What to watch").

Names and labels follow Prometheus' conventions: base units (seconds, bytes), ``_total``
for counters, labels with few values (no user or room ids). Observations are per command,
per event or per request, never per recipient: fan-out to thousands costs nothing here.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "COMMANDS",
    "COMMAND_SECONDS",
    "CONNECTIONS",
    "DELIVERY_SECONDS",
    "DISCONNECTS",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "PIPELINE_LAG",
    "PLUGIN_HOOKS",
    "PROCESS",
    "RATE_LIMITED",
    "RESUMED_EVENTS",
    "RESUMES",
    "command_totals",
    "count_command",
    "count_plugin",
    "observe_delivery",
    "set_lag",
    "watch_connections",
]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds, from a millisecond (an embedded send) to ten (a backend outage being waited out)."""

PROCESS = Info("tidings_process", "This process: its role (gateway, processor) and version")

COMMANDS = Counter(
    "tidings_commands_total", "Client commands by name and outcome", ["command", "outcome"]
)
CONNECTIONS = Gauge(
    "tidings_connections", "Open client connections on this gateway (WebSocket and MQTT)"
)
DISCONNECTS = Counter("tidings_disconnects_total", "Closed connections by close code", ["code"])


COMMAND_SECONDS = Histogram(
    "tidings_command_duration_seconds",
    "WebSocket commands from the frame's arrival to the reply, by name and outcome",
    ["command", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_SECONDS = Histogram(
    "tidings_delivery_latency_seconds",
    "From an event's logging to its fan-out by this gateway (inbox: per user stream event; "
    "room: per room stream event); the socket write follows within TIDINGS_FLUSH_INTERVAL",
    ["stream"],
    buckets=LATENCY_BUCKETS,
)
RESUMES = Counter(
    "tidings_resumes_total",
    "Connects by recovery outcome (NOT_REQUESTED: a fresh start)",
    ["outcome"],
)
RESUMED_EVENTS = Histogram(
    "tidings_resume_replayed_events",
    "Events replayed to a connect that recovered",
    buckets=(0, 1, 5, 10, 50, 100, 500, 1000),
)
RATE_LIMITED = Counter(
    "tidings_rate_limited_total",
    "Refusals for going over a limit: command, connect (per user), handshake (per address), rest",
    ["limit"],
)
for _limit in ("command", "connect", "handshake", "rest"):  # series exist from the start, at 0
    RATE_LIMITED.labels(_limit)
HTTP_REQUESTS = Counter(
    "tidings_http_requests_total",
    "REST requests by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "tidings_http_request_duration_seconds",
    "REST requests from arrival to the end of the answer, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
PIPELINE_LAG = Gauge(
    "tidings_pipeline_lag_events",
    "Events logged but not yet handled by a stage (commands: decided by the command "
    "processor; projections: projected), per partition, measured when /metrics is scraped",
    ["stage", "partition"],
)

_command_counters: dict[tuple[str, str], tuple[Counter, Histogram]] = {}


def count_command(command: str, outcome: str, started: float | None = None) -> None:
    """Counts a command and, given when it started (``time.perf_counter()``), its duration;
    the labelled children are looked up once."""
    children = _command_counters.get((command, outcome))
    if children is None:
        children = _command_counters[(command, outcome)] = (
            COMMANDS.labels(command, outcome),
            COMMAND_SECONDS.labels(command, outcome),
        )
    children[0].inc()
    if started is not None:
        children[1].observe(time.perf_counter() - started)


_delivery = {stream: DELIVERY_SECONDS.labels(stream) for stream in ("inbox", "room")}


def observe_delivery(stream: str, logged_at: float) -> None:
    """An event logged at ``logged_at`` (wall clock, seconds) is being fanned out now."""
    _delivery[stream].observe(max(time.time() - logged_at, 0.0))


def set_lag(lag: dict[str, Any]) -> None:
    """Sets the lag gauges from a ``ClusterView.lag()`` report."""
    partitions = lag.get("partitions")
    if partitions:
        for stage, by_partition in partitions.items():
            for partition, behind in by_partition.items():
                PIPELINE_LAG.labels(stage, str(partition)).set(behind)
        return
    for stage in ("projections", "commands"):
        if stage in lag:
            PIPELINE_LAG.labels(stage, "0").set(lag[stage])


PLUGIN_HOOKS = Counter(
    "tidings_plugin_hooks_total",
    "Plugin hook runs by plugin, hook (filter, handler, observer) and outcome",
    ["plugin", "hook", "outcome"],
)


def count_plugin(plugin: str, hook: str, outcome: str) -> None:
    PLUGIN_HOOKS.labels(plugin, hook, outcome).inc()


def command_totals() -> tuple[dict[str, int], int]:
    """Client commands handled so far by name, and how many of them did not succeed."""
    totals: dict[str, int] = {}
    errors = 0
    for metric in COMMANDS.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue  # the _created timestamps
            command, value = sample.labels["command"], int(sample.value)
            totals[command] = totals.get(command, 0) + value
            errors += value if sample.labels["outcome"] != "ok" else 0
    return totals, errors


Census = Callable[[], tuple[dict[str, int], int, list[int]]]
QUEUE_BUCKETS = (0, 1, 10, 100, 1000, 2000)
"""Frames queued per connection; past TIDINGS_MAX_QUEUED_FRAMES (2,000) it is cut (4008)."""


class _ConnectionsCollector(Collector):
    """Connections by namespace, room-stream follows and the distribution of send-queue
    depths, read from the gateway's hub when /metrics is scraped (nothing per push)."""

    def __init__(self) -> None:
        self.census: Callable[[], Census | None] = lambda: None

    def collect(self) -> Iterator[Any]:
        census = self.census()
        if census is None:
            return
        by_namespace, follows, queued = census()
        connections = GaugeMetricFamily(
            "tidings_namespace_connections",
            "Open WebSocket connections by namespace",
            labels=["namespace"],
        )
        for namespace, count in sorted(by_namespace.items()):
            connections.add_metric([namespace], count)
        yield connections
        yield GaugeMetricFamily(
            "tidings_room_stream_follows",
            "Room streams followed by this gateway's connections",
            value=follows,
        )
        buckets = [(str(b), float(sum(1 for q in queued if q <= b))) for b in QUEUE_BUCKETS]
        buckets.append(("+Inf", float(len(queued))))
        yield GaugeHistogramMetricFamily(
            "tidings_send_queue_frames",
            "Connections by the frames queued for them and not yet written, now",
            buckets=buckets,
            gsum_value=float(sum(queued)),
        )


_connections = _ConnectionsCollector()
REGISTRY.register(_connections)


def watch_connections(census: Census) -> None:
    """Reports the connections of this census (a gateway's hub) from now on; the last
    gateway started in this process wins (tests start several)."""
    owner = getattr(census, "__self__", None)
    if owner is None:
        _connections.census = lambda: census
        return
    ref = weakref.ref(owner)
    name = census.__name__
    _connections.census = lambda: getattr(ref(), name, None)
