"""What the admin overview shows of a running deployment: every serving process with its
numbers (those its ``/metrics`` exposes) and the pipeline's lag.

:class:`ClusterView` is the port: each serving process reports its own status every few
seconds (:class:`StatusReporter`), and any of them can read everybody's. The embedded
backend has one process; the distributed one keeps the reports in Cassandra (rows that
expire when a process stops reporting) and measures lag against Kafka's end offsets.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from api.metrics import command_totals

__all__ = ["ClusterView", "ProcessStatus", "SingleProcess", "StatusReporter"]

log = structlog.get_logger(__name__)

REPORT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    process_id: str
    kind: str
    """"server" (embedded), "gateway" or "processor" (distributed)."""
    connections: int
    messages_per_second: float
    """Sends this process accepted per second, over its last report interval."""
    errors: int
    """Client commands refused or failed since it started (outcome other than ok)."""
    commands: dict[str, int] = field(default_factory=dict)
    reported_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ClusterView(ABC):
    @abstractmethod
    async def report(self, status: ProcessStatus) -> None:
        """Records this process's status (kept a few report intervals)."""

    @abstractmethod
    async def processes(self) -> list[ProcessStatus]:
        """The serving processes that reported lately, by id."""

    @abstractmethod
    async def lag(self) -> dict[str, Any]:
        """How far the pipeline is behind the log: ``{"projections": n, "commands": n,
        "partitions": {...}}`` (what a backend can measure)."""


class SingleProcess(ClusterView):
    """The embedded deployment: this process is the whole cluster."""

    def __init__(self, lag: Callable[[], Any]) -> None:
        self._lag = lag
        self._status: ProcessStatus | None = None

    async def report(self, status: ProcessStatus) -> None:
        self._status = status

    async def processes(self) -> list[ProcessStatus]:
        return [self._status] if self._status is not None else []

    async def lag(self) -> dict[str, Any]:
        report = await self._lag()
        return {"projections": int(report.get("lag", 0)), "commands": 0}


class StatusReporter:
    """Reports this process's numbers every :data:`REPORT_SECONDS` until cancelled."""

    def __init__(
        self, view: ClusterView, process_id: str, kind: str, connections: Callable[[], int]
    ) -> None:
        self._view = view
        self._process_id = process_id
        self._kind = kind
        self._connections = connections
        self._last: tuple[float, int] | None = None

    def status(self) -> ProcessStatus:
        commands, errors = command_totals()
        now = time.monotonic()
        sends = commands.get("send", 0)
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (sends - self._last[1]) / (now - self._last[0])
        self._last = (now, sends)
        return ProcessStatus(
            self._process_id,
            self._kind,
            self._connections(),
            round(rate, 1),
            errors,
            commands,
            time.time(),
        )

    async def run(self) -> None:
        while True:
            try:
                await self._view.report(self.status())
            except Exception as exc:  # a store outage: the next round reports again
                log.warning("status_not_reported", error=repr(exc))
            await asyncio.sleep(REPORT_SECONDS)
