"""Runs plugin observers (``api.plugins.Observer``): each reads the log through its own
:class:`streams.feed.EventFeed`, apart from live delivery, and sees every event of its
namespaces at least once, in log order. An observer that fails or times out gets the same
event again after a pause (doubling up to :data:`MAX_RETRY_SECONDS`); its position moves
on only past what it handled, so a restart resumes it."""

from __future__ import annotations

import asyncio

import structlog

from api import metrics
from api.plugins import Observer
from domain.namespaces import DEFAULT_NAMESPACE
from proto.codec import envelope_from_bytes, envelope_to_dict
from streams.feed import EventFeed
from streams.log import LogRecord

__all__ = ["ObserverRunner"]

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 5.0
STOP_GRACE_SECONDS = 5.0
FEED_RETRY_SECONDS = 1.0


class ObserverRunner:
    """Runs one observer until :meth:`stop`, which lets a delivery under way finish (up to
    ``grace`` seconds): an event its endpoint received is then not sent again on restart."""

    def __init__(
        self,
        name: str,
        observer: Observer,
        namespaces: frozenset[str],
        feed: EventFeed,
        timeout: float,
    ) -> None:
        self._name = name
        self._plugin = name.partition(".")[0]
        self._observer = observer
        self._namespaces = namespaces
        self._feed = feed
        self._timeout = timeout
        self._stopping = False
        self._delivering = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"observer-{self._name}")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stopping = True
        if self._task is None:
            return
        if not self._delivering:
            self._task.cancel()  # waiting for records: nothing to finish
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        log.info("observer_started", observer=self._name, namespaces=sorted(self._namespaces))
        while not self._stopping:
            try:
                records = await self._feed.next_batch(POLL_SECONDS)
            except Exception:  # the log unreachable for a while: read again later
                log.exception("observer_feed_failed", observer=self._name)
                await asyncio.sleep(FEED_RETRY_SECONDS)
                continue
            handled = 0
            try:
                for record in records:
                    if self._stopping:
                        break
                    envelope = record.envelope or envelope_from_bytes(record.data)
                    if (envelope.namespace or DEFAULT_NAMESPACE) in self._namespaces:
                        self._delivering = True
                        try:
                            await _deliver(
                                self._name,
                                self._plugin,
                                self._observer,
                                envelope_to_dict(envelope),
                                self._timeout,
                            )
                        finally:
                            self._delivering = False
                    handled += 1
            finally:
                # Also when stopped half-way: a restart resumes right after what was handled.
                await self._save(records[:handled])

    async def _save(self, handled: list[LogRecord]) -> None:
        try:
            await self._feed.commit(handled)
        except Exception:  # not saved: a restart sees these again (at least once)
            log.exception("observer_position_not_saved", observer=self._name)


async def _deliver(
    name: str, plugin: str, observer: Observer, event: dict[str, object], timeout: float
) -> None:
    pause = FIRST_RETRY_SECONDS
    while True:
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, never loses a cancel
                await observer(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # contained: logged, counted, retried
            outcome = "timed_out" if isinstance(exc, TimeoutError) else "failed"
            metrics.count_plugin(plugin, "observer", outcome)
            log.warning(
                "observer_retrying",
                observer=name,
                event_id=event.get("eventId"),
                error=repr(exc)[:200],
                retry_in=pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_SECONDS)
            continue
        metrics.count_plugin(plugin, "observer", "ok")
        return
