"""The command processor on Kafka: the single writer of each partition's streams.

It consumes ``<prefix>.commands`` in the consumer group ``<prefix>-command-processor``.
When it is assigned partition p it starts a transactional producer with
``transactional_id = <prefix>-command-processor-p`` (which fences any older owner of p and
aborts its open transaction), rebuilds p's state from ``<prefix>.events`` (read committed),
and then, per batch of commands, decides them with the pure
:class:`streams.command_processor.PartitionState` and appends the decided events to events
partition p, the replies to ``<prefix>.replies`` (a rejection carries the broken rule's
code, ``domain.errors.DomainError.code``) and the consumed offsets in one transaction. A crash
anywhere aborts the transaction, and so does one not committed within
:data:`TRANSACTION_SECONDS`: the batch is decided again by the next owner, so an event is in
the log exactly once and every acknowledged command's events are committed (ADR 6).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from domain.errors import DomainError
from domain.namespaces import Namespaces
from domain.values import LARGE_ROOM_MEMBERS
from proto.codec import CodecError, encode_event, payload_kind
from proto.commands import decode_command
from proto.tidings.v1 import internal_pb2 as ip
from streams import tracing
from streams.command_processor import Outcome, PartitionState
from streams.kafka_read import read_to, stop
from streams.metrics import WRITER_BATCH
from streams.topics import FETCH_MAX_WAIT_MS, Topics

__all__ = ["KafkaCommandProcessor"]

log = structlog.get_logger(__name__)

TRANSACTION_SECONDS = 20.0
"""A batch's transaction that has not committed by then is abandoned (its producer closed,
the consumer restarted): a connection that went silent must not wedge the writer forever."""


class PartitionNotTaken(Exception):
    """An assigned partition could not be taken over (its producer or its rebuild failed)."""


class _Partition:
    def __init__(self, state: PartitionState, producer: AIOKafkaProducer) -> None:
        self.state = state
        self.producer = producer


class KafkaCommandProcessor(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        epoch: str,
        group_id: str | None = None,
        large_room_members: int = LARGE_ROOM_MEMBERS,
        namespaces: Namespaces | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._large_room_members = large_room_members
        self._namespaces = namespaces
        self._topics = topics
        self._epoch = epoch
        # One group and one set of transactional ids per deployment (topic prefix): two
        # deployments on one Kafka cluster must never fence each other's writers.
        self._group_id = group_id or f"{topics.prefix}-command-processor"
        self._partitions: dict[int, _Partition] = {}
        self._fetcher: AIOKafkaConsumer | None = None
        self._not_taken: BaseException | None = None
        """Why taking an assigned partition failed (aiokafka logs a listener's error and
        goes on without it: its commands would wait for ever); the loop starts over."""
        self._fetching = asyncio.Lock()
        """One fetch at a time: partitions decide side by side, and a fetch assigns the one
        consumer to its own partition (another's assign would leave it waiting for ever)."""
        self.ready = asyncio.Event()
        """Set once partitions are assigned and rebuilt (for tests and readiness)."""
        # aiokafka runs rebalance callbacks in its own task: a batch being written and a
        # partition being released or taken over must not interleave.
        self._owning = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Processes commands until cancelled; restarts itself after Kafka failures."""
        while True:
            try:
                await self._run_once()
            except (KafkaError, OSError, TimeoutError, PartitionNotTaken) as exc:
                log.warning("command_processor_restarting", error=repr(exc))
                await asyncio.sleep(1)

    async def _run_once(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        consumer.subscribe([self._topics.commands], listener=self)
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if self._not_taken is not None:
                    failure, self._not_taken = self._not_taken, None
                    raise PartitionNotTaken(repr(failure)) from failure
                async with self._owning:
                    # Partitions have producers (and transactions) of their own: commit
                    # theirs side by side rather than one after the other.
                    outcomes = await asyncio.gather(
                        *(
                            self._process(tp, records)
                            for tp, records in batches.items()
                            if records and tp.partition in self._partitions
                        ),
                        return_exceptions=True,
                    )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
        finally:
            await self._release(list(self._partitions))
            if self._fetcher is not None:
                await self._fetcher.stop()
                self._fetcher = None
            await consumer.stop()

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.ready.clear()
        async with self._owning:
            await self._release([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        async with self._owning:
            try:
                await self._assign(assigned)
            except Exception as exc:  # Kafka not back yet: start over (see _not_taken)
                self._not_taken = exc

    async def _assign(self, assigned: Iterable[TopicPartition]) -> None:
        for tp in assigned:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                transactional_id=f"{self._group_id}-{tp.partition}",
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
            )
            await producer.start()  # fences the previous owner of this partition
            state = await self._rebuild(tp.partition)
            self._partitions[tp.partition] = _Partition(state, producer)
        log.info("command_partitions_assigned", partitions=sorted(self._partitions))
        self.ready.set()

    async def _release(self, partitions: list[int]) -> None:
        for partition in partitions:
            owned = self._partitions.pop(partition, None)
            if owned is not None:
                await _close(owned.producer)

    async def _rebuild(self, partition: int) -> PartitionState:
        """Folds every committed event of events partition p."""
        state = PartitionState(self._large_room_members, self._namespaces)
        tp = TopicPartition(self._topics.events, partition)
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        try:
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            end = (await reader.end_offsets([tp]))[tp]
            count = 0
            async for record in read_to(reader, tp, end, timeout_ms=500, max_records=5000):
                state.fold(record.value, record.offset)
                count += 1
            log.info("command_partition_rebuilt", partition=partition, events=count)
        finally:
            await stop(reader)
        return state

    # ------------------------------------------------------------------ processing

    async def _process(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        owned = self._partitions[tp.partition]
        WRITER_BATCH.labels("distributed").observe(len(records))
        commands = []
        for record in records:
            try:
                commands.append(decode_command(record.value))
            except CodecError as exc:
                log.warning("command_rejected_malformed", offset=record.offset, error=str(exc))
        trace_ids = (command.meta.trace_id for _, command in commands)
        try:
            with tracing.steps("decide", trace_ids, "command"):
                decided = [(request, owned.state.decide(c)) for request, c in commands]
                async with asyncio.timeout(TRANSACTION_SECONDS), owned.producer.transaction():
                    await self._write(tp.partition, owned, decided)
                    await owned.producer.send_offsets_to_transaction(
                        {tp: records[-1].offset + 1}, self._group_id
                    )
        except (KafkaError, OSError, TimeoutError):
            # The transaction is aborted; state may hold undecided events: start over.
            self._partitions.pop(tp.partition, None)
            await _close(owned.producer)
            raise

    async def _write(
        self, partition: int, owned: _Partition, decided: list[tuple[ip.CommandRecord, Outcome]]
    ) -> None:
        producer, state = owned.producer, owned.state
        written: dict[tuple[object, int], bytes] = {}
        pending = []
        for _, outcome in decided:
            for event in outcome.events:
                envelope = encode_event(event, self._epoch)
                data = envelope.SerializeToString()
                key = envelope.stream
                future = await producer.send(
                    self._topics.events,
                    value=data,
                    key=key.encode(),
                    partition=partition,
                    headers=[
                        ("kind", payload_kind(envelope).encode()),
                        *tracing.traceparent(envelope.trace_id, "decide"),
                    ],
                )
                pending.append((event, data, future))
                written[(event.originator_id, event.originator_version)] = data
        last_offset = -1
        for event, data, future in pending:
            metadata = await future
            state.remember(event, data, metadata.offset)
            last_offset = metadata.offset
        for request, outcome in decided:
            reply = await self._reply(partition, request, outcome, last_offset, written)
            await producer.send(
                self._topics.replies,
                value=reply.SerializeToString(),
                key=request.gateway_id.encode(),
            )

    async def _reply(
        self,
        partition: int,
        request: ip.CommandRecord,
        outcome: Outcome,
        last_offset: int,
        written: dict[tuple[object, int], bytes],
    ) -> ip.CommandReply:
        """The answer: an event of this batch, a recent one, or one fetched from the log
        (only committed events are ever fetched, so the fetch cannot wait on this
        transaction)."""
        reply = ip.CommandReply(request_id=request.request_id, duplicate=outcome.duplicate)
        if outcome.rejection is not None:
            reply.rejected.CopyFrom(_rejection(outcome.rejection))
            return reply
        assert outcome.answer is not None
        key = (outcome.answer.originator_id, outcome.answer.position)
        state = self._partitions[partition].state
        data = written.get(key) or state.recent.get(key)
        if data is None:
            data = await self._fetch(partition, state.offsets[key])
        reply.event.ParseFromString(data)
        if outcome.events:
            reply.partition, reply.offset = partition, last_offset
        return reply

    async def _fetch(self, partition: int, offset: int) -> bytes:
        """Reads one committed event by offset (a duplicate of an old command)."""
        async with self._fetching:
            if self._fetcher is None:
                self._fetcher = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    enable_auto_commit=False,
                    isolation_level="read_committed",
                )
                await self._fetcher.start()
            tp = TopicPartition(self._topics.events, partition)
            self._fetcher.assign([tp])
            self._fetcher.seek(tp, offset)
            record = await self._fetcher.getone(tp)
            value: bytes = record.value
            return value


def _rejection(error: DomainError) -> ip.CommandRejection:
    return ip.CommandRejection(code=error.code, message=str(error))


async def _close(producer: AIOKafkaProducer) -> None:
    """Stops a producer, giving up after a few seconds (its broker may be unreachable)."""
    with contextlib.suppress(KafkaError, OSError, TimeoutError):
        await asyncio.wait_for(producer.stop(), 10)
