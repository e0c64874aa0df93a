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

__all__ = ["run_observer"]

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 5.0


async def run_observer(
    name: str,
    observer: Observer,
    namespaces: frozenset[str],
    feed: EventFeed,
    timeout: float,
) -> None:
    """Runs until cancelled."""
    plugin = name.partition(".")[0]
    log.info("observer_started", observer=name, namespaces=sorted(namespaces))
    while True:
        records = await feed.next_batch(POLL_SECONDS)
        for record in records:
            envelope = record.envelope or envelope_from_bytes(record.data)
            if (envelope.namespace or DEFAULT_NAMESPACE) in namespaces:
                await _deliver(name, plugin, observer, envelope_to_dict(envelope), timeout)
        await feed.commit(records)


async def _deliver(
    name: str, plugin: str, observer: Observer, event: dict[str, object], timeout: float
) -> None:
    pause = FIRST_RETRY_SECONDS
    while True:
        try:
            await asyncio.wait_for(observer(event), timeout)
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
