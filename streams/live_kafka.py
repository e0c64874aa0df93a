"""Live delivery across gateways through ``tidings.live``.

Projectors publish inbox events and room-stream events (after they are stored; a
room-stream event once, keyed by its stream) and presence notices; gateways
publish typing notices. Every gateway reads the topic from its end and hands the deliveries
for the users it holds to its hub, dropping the others before decoding them when the key says
whom a record is for (``live_records.py`` is the record format).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from projections.changes import Delivery
from streams.live_records import decode_live, encode_live
from streams.log import LogUnavailable
from streams.topics import FETCH_MAX_WAIT_MS, Topics

__all__ = ["KafkaLivePublisher", "KafkaLiveSubscriber"]

log = structlog.get_logger(__name__)


class KafkaLivePublisher:
    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self._topics = topics
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, delivery: Delivery) -> None:
        key, value = encode_live(delivery)
        await self._producer.send_and_wait(self._topics.live, value=value, key=key.encode())


class KafkaLiveSubscriber:
    """Feeds a gateway's hub. ``is_local(key)`` says whether this gateway holds the user, or
    followers of the room stream, a record's key names."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        deliver: Callable[[list[Delivery]], None],
        is_local: Callable[[str], bool],
    ) -> None:
        self._topics = topics
        self._deliver = deliver
        self._is_local = is_local
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        # No group: the consumer is assigned every partition and starts at their ends.
        self._consumer.subscribe([self._topics.live])
        for _ in range(200):
            if self._consumer.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise LogUnavailable(
                f"topic {self._topics.live} has no partitions: run tidings migrate"
            )
        for tp in self._consumer.assignment():  # resolve the end positions before going on
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name="live-subscriber")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000, max_records=2000)
            except KafkaError as exc:
                log.warning("live_subscriber_retrying", error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            for messages in batches.values():
                deliveries = []
                for message in messages:
                    key = (message.key or b"").decode()
                    if key and not self._is_local(key):
                        continue
                    delivery = decode_live(message.value)
                    if delivery is not None:
                        deliveries.append(delivery)
                if deliveries:
                    self._deliver(deliveries)
