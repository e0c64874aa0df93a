"""The gateway's command bus on Kafka: request on ``tidings.commands``, reply on
``tidings.replies``.

Each gateway has an id; the command processor keys replies by it, and the gateway reads the
replies topic from its end, dropping other gateways' replies before decoding them. A command
that gets no reply in time raises :class:`LogUnavailable` (it may still be applied later, so
clients retry with the same ``clientMsgId``, which is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from domain.commands import Command
from domain.errors import error_for_code
from proto.commands import command_key, encode_command
from proto.tidings.v1 import internal_pb2 as ip
from streams import tracing
from streams.log import CommandBus, CommandResult, LogUnavailable
from streams.topics import FETCH_MAX_WAIT_MS, Topics

__all__ = ["KafkaCommandBus"]

log = structlog.get_logger(__name__)


class KafkaCommandBus(CommandBus):
    def __init__(
        self, bootstrap: str, topics: Topics, gateway_id: str, *, timeout: float = 10.0
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self.gateway_id = gateway_id
        self._key = gateway_id.encode()
        self._timeout = timeout
        self._pending: dict[str, asyncio.Future[ip.CommandReply]] = {}
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=1
        )
        self._replies = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="latest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._replies.start()
        # No group: the consumer is assigned every partition and starts at their ends.
        self._replies.subscribe([self._topics.replies])
        for _ in range(200):
            if self._replies.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise LogUnavailable(
                f"topic {self._topics.replies} has no partitions: run tidings migrate"
            )
        for tp in self._replies.assignment():  # resolve the end positions before going on
            await self._replies.position(tp)
        self._reader = asyncio.create_task(self._read_replies(), name="command-replies")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._replies.stop()
        await self._producer.stop()

    async def _read_replies(self) -> None:
        while True:
            try:
                async for message in self._replies:
                    if message.key != self._key:
                        continue
                    reply = ip.CommandReply.FromString(message.value)
                    future = self._pending.pop(reply.request_id, None)
                    if future is not None and not future.done():
                        future.set_result(reply)
            except KafkaError as exc:
                log.warning("command_replies_retrying", error=repr(exc))
                await asyncio.sleep(0.5)

    async def execute(self, command: Command) -> CommandResult:
        request_id = uuid.uuid4().hex
        future: asyncio.Future[ip.CommandReply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        record = encode_command(command, request_id, self.gateway_id)
        try:
            headers = tracing.traceparent(command.meta.trace_id, "command")
            await asyncio.wait_for(
                self._send(command_key(command), record.SerializeToString(), headers),
                self._timeout,
            )
            reply = await asyncio.wait_for(future, self._timeout)
        except (TimeoutError, KafkaError) as exc:
            raise LogUnavailable(f"no answer from the command processor: {exc!r}") from exc
        finally:
            self._pending.pop(request_id, None)
        if reply.WhichOneof("outcome") == "rejected":
            raise error_for_code(reply.rejected.code, reply.rejected.message)
        return CommandResult(
            reply.event, duplicate=reply.duplicate, offset=reply.offset, partition=reply.partition
        )

    async def _send(self, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        delivery = await self._producer.send(
            self._topics.commands, value=value, key=key.encode(), headers=headers or None
        )
        await delivery
