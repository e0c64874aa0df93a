"""The embedded projection runner: follows the log, projects, hands deliveries on.

Crash-safe by construction: the store commits each batch with its log offset, and the runner
starts from the store's offset, so a restart neither skips nor repeats an effect. Live
deliveries happen after the commit; one lost in a crash is recovered by the client's resume.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from projections.changes import Delivery
from projections.store import ProjectionStore, Projector, StoreUnavailable
from proto.codec import envelope_from_bytes
from streams import tracing
from streams.log import EventLog, LogUnavailable, ProjectionProgress
from streams.metrics import BACKEND_RETRIES, stage_done

__all__ = ["ProjectionRunner"]

log = structlog.get_logger(__name__)

Deliver = Callable[[Sequence[Delivery]], None]


class ProjectionRunner(ProjectionProgress):
    def __init__(
        self,
        log: EventLog,
        store: ProjectionStore,
        project: Projector,
        deliver: Deliver,
        *,
        batch_size: int = 500,
        idle_wait: float = 1.0,
        retry_delay: float = 0.5,
    ) -> None:
        self._log = log
        self._store = store
        self._project = project
        self._deliver = deliver
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._retry_delay = retry_delay
        self.offset = 0
        self.started_behind: int | None = None
        """The log head when :meth:`run` started; None before."""
        self._progressed = asyncio.Condition()
        self.running = False
        """Whether :meth:`run` is going: False before it starts and once it has died."""

    @property
    def caught_up_once(self) -> bool:
        """Whether everything logged before :meth:`run` started has been projected."""
        return self.started_behind is not None and self.offset >= self.started_behind

    async def catch_up(self) -> None:
        """Returns once everything appended so far has been projected."""
        target = await self._log.head()
        while self.offset < target:
            await self.step()

    async def step(self) -> int:
        """Projects one batch; returns how many records it read."""
        started = time.perf_counter()
        records = await self._log.read(self.offset, self._batch_size)
        if not records:
            return 0
        events = [(r.offset, r.envelope or envelope_from_bytes(r.data)) for r in records]
        with tracing.steps("project", (e.trace_id for _, e in events), "decide"):
            deliveries = await self._store.apply(events, self._project)
        self.offset = records[-1].offset
        if deliveries:
            self._deliver(deliveries)
        stage_done("projections", len(records), started)
        async with self._progressed:
            self._progressed.notify_all()
        return len(records)

    async def wait_for(self, offset: int, timeout: float, partition: int = 0) -> bool:
        async with self._progressed:
            try:
                await asyncio.wait_for(
                    self._progressed.wait_for(lambda: self.offset >= offset), timeout
                )
            except TimeoutError:
                return False
        return True

    async def readiness(self) -> dict[str, Any]:
        """Ready once caught up with what was logged before the start, while running (a
        runner that died makes its process unready: nothing it serves would be new)."""
        head = await self._log.head()
        return {
            "ready": self.running and self.caught_up_once,
            "log_head": head,
            "projected": self.offset,
            "lag": head - self.offset,
        }

    async def run(self) -> None:
        """Projects until cancelled; retries outages; a bug (any other error) ends it."""
        self.running = True
        try:
            self.offset = await self._store.tracked_offset()
            self.started_behind = await self._log.head()
            log.info("projection_runner_started", offset=self.offset, log_head=self.started_behind)
            while True:
                try:
                    if await self.step() == 0:
                        await self._log.wait(self.offset, self._idle_wait)
                except (StoreUnavailable, LogUnavailable) as exc:
                    BACKEND_RETRIES.labels("projections").inc()
                    log.warning("projection_runner_retrying", error=str(exc))
                    await asyncio.sleep(self._retry_delay)
        except Exception:
            log.exception("projection_runner_died", offset=self.offset)
            raise
        finally:
            self.running = False
