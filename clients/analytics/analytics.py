"""Worked example of the analytics tap: messages per room per minute, active users per hour.

It reads the Tidings event log the way any analyst's program could, without Tidings' code:
from Kafka with its own consumer group (it never disturbs gateways or processors), decoding
records with the published descriptor set (proto/tidings.desc); or, for an embedded
installation, from the JSON lines of ``tidings audit export --all``. See docs/analytics.md.

    python clients/analytics/analytics.py --bootstrap 127.0.0.1:9092 --topic tidings.events
    tidings audit export --all | python clients/analytics/analytics.py --jsonl -
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

DEFAULT_DESCRIPTORS = Path(__file__).resolve().parents[2] / "proto" / "tidings.desc"


class Counts:
    """The two aggregates, from events in the protobuf JSON mapping (camelCase keys)."""

    def __init__(self) -> None:
        self.events = 0
        self.messages: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.active: dict[str, set[str]] = defaultdict(set)
        self.app_events: dict[str, int] = defaultdict(int)

    def add(self, event: dict[str, Any]) -> None:
        self.events += 1
        at = event.get("occurredAt", "")  # RFC 3339, UTC: "2026-11-26T19:03:41.123Z"
        if "messagePosted" in event:
            self.messages[event["messagePosted"]["roomId"]][at[:16]] += 1
        if "eventEmitted" in event:  # application events, by name (docs/events.md)
            self.app_events[event["eventEmitted"]["name"]] += 1
        user = event.get("actor", {}).get("userId")
        if user and "presenceChanged" not in event:  # acting, not just connecting
            self.active[at[:13]].add(user)

    def report(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "messagesPerRoomPerMinute": {
                room: dict(sorted(minutes.items()))
                for room, minutes in sorted(self.messages.items())
            },
            "activeUsersPerHour": {hour: len(users) for hour, users in sorted(self.active.items())},
            "applicationEventsByName": dict(sorted(self.app_events.items())),
        }


def envelope_class(descriptors: Path) -> Any:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tidings.v1.Envelope"))


async def from_kafka(args: argparse.Namespace, counts: Counts) -> None:
    from aiokafka import AIOKafkaConsumer

    envelope = envelope_class(args.descriptors)
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        isolation_level="read_committed",  # never count an aborted (fenced) write
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        ends: dict[Any, int] | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for record in records:
                    counts.add(json_format.MessageToDict(envelope.FromString(record.value)))
            if batch:
                await consumer.commit()  # this group's own progress: a restart continues
            if args.until_end:
                assignment = consumer.assignment()
                if not assignment:
                    continue
                ends = ends or await consumer.end_offsets(list(assignment))
                positions = [await consumer.position(tp) for tp in ends]
                if all(p >= ends[tp] for p, tp in zip(positions, ends, strict=True)):
                    return
    finally:
        await consumer.stop()


def from_jsonl(stream: IO[str], counts: Counts) -> None:
    for line in stream:
        if line.strip():
            counts.add(json.loads(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="tidings.events")
    parser.add_argument("--group", default="tidings-analytics-example")
    parser.add_argument("--descriptors", type=Path, default=DEFAULT_DESCRIPTORS)
    parser.add_argument("--until-end", action="store_true", help="stop once caught up")
    parser.add_argument("--jsonl", help="read JSON lines from this file ('-': stdin)")
    args = parser.parse_args(argv)
    counts = Counts()
    if args.jsonl:
        with open(args.jsonl) if args.jsonl != "-" else sys.stdin as stream:
            from_jsonl(stream, counts)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(from_kafka(args, counts))
    print(json.dumps(counts.report(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
