"""Reading a transactional partition to its end without waiting forever on a marker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from streams import kafka_read
from streams.kafka_read import read_to
from streams.log import LogUnavailable

TP = TopicPartition("events", 0)


@dataclass
class Record:
    offset: int


@dataclass
class FakeConsumer:
    """Offsets ``data`` hold records; any other offset below the end is a marker, which,
    like aiokafka at a partition's end, is never returned and never stepped over."""

    data: set[int]
    at: int = 0
    fetches: int = field(default=0)

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def getmany(self, tp: TopicPartition, **_: Any) -> dict[TopicPartition, list[Record]]:
        self.fetches += 1
        if self.at in self.data:
            record = Record(self.at)
            self.at += 1
            return {tp: [record]}
        return {}


async def records(consumer: FakeConsumer, end: int) -> list[int]:
    return [r.offset async for r in read_to(consumer, TP, end)]


async def test_a_marker_at_the_end_ends_the_read() -> None:
    consumer = FakeConsumer(data={0, 1, 2})  # offset 3 is the commit marker
    assert await records(consumer, 4) == [0, 1, 2]
    assert consumer.fetches == 3 + kafka_read.MARKER_FETCHES


async def test_a_position_that_never_moves_is_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_read, "STUCK_FETCHES", 5)
    consumer = FakeConsumer(data={0}, at=0)
    with pytest.raises(LogUnavailable, match="no progress at 1"):
        await records(consumer, 10)  # stuck at 1, far from the end
