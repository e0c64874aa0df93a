"""Prometheus metrics of the log's writers and the projection stages (the gateway's own are
in ``api/metrics.py``; a gateway's /metrics and a processor's serve both registries' worth).

Observed once per batch, never per event or recipient.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BACKEND_RETRIES",
    "STAGE_RECORDS",
    "STAGE_SECONDS",
    "WRITER_BATCH",
    "WRITER_QUEUE",
    "stage_done",
]

WRITER_BATCH = Histogram(
    "tidings_writer_batch_commands",
    "Commands decided and committed together by a single writer (embedded: the log; "
    "distributed: the command processor)",
    ["writer"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
WRITER_QUEUE = Gauge(
    "tidings_writer_queue_commands",
    "Commands waiting for the single writer when its last batch started",
    ["writer"],
)
STAGE_RECORDS = Counter(
    "tidings_stage_records_total",
    "Records a projection stage handled (embedded: projections; distributed: events, inbox)",
    ["stage"],
)
STAGE_SECONDS = Histogram(
    "tidings_stage_batch_duration_seconds",
    "How long a projection stage took for one batch, retries included",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BACKEND_RETRIES = Counter(
    "tidings_backend_retries_total",
    "Calls to a backend (Kafka, Cassandra, SQLite) that failed and were retried, by stage "
    "(the error is in the logs)",
    ["stage"],
)
for _stage in ("projections", "events", "inbox"):  # every series exists from the start, at 0
    BACKEND_RETRIES.labels(_stage)


def stage_done(stage: str, records: int, started: float) -> None:
    """A batch of ``records`` went through ``stage``, which started at ``started``
    (``time.perf_counter()``)."""
    STAGE_RECORDS.labels(stage).inc(records)
    STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)
