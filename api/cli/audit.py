"""The ``tidings audit`` driver: room state as of a cut, message receipts, history export.

Every answer comes from one streaming scan of the log (the projections are not consulted),
so it holds for any point in history and uses constant memory per scanned event.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import orjson

from api.runtime import open_log_tools
from api.settings import Settings
from projections.audit import Cut, EventSelector, Receipts, RoomAsOf, aware
from proto.codec import Envelope, envelope_from_bytes, envelope_to_dict
from streams.log import LogScanner

__all__ = ["run_audit"]


async def _fold(scanner: LogScanner, observe: Callable[[Envelope], None]) -> None:
    async for record in scanner.scan():
        observe(envelope_from_bytes(record.data))


async def _export(scanner: LogScanner, selector: EventSelector) -> int:
    out = sys.stdout.buffer
    count = 0
    async for record in scanner.scan():
        envelope = envelope_from_bytes(record.data)
        if selector.selects(envelope):
            out.write(orjson.dumps(envelope_to_dict(envelope)) + b"\n")
            count += 1
    out.flush()
    return count


async def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    tools = await open_log_tools(settings)
    try:
        if args.audit == "export":
            selector = EventSelector(
                room_id=args.room,
                user_id=args.user,
                since=aware(args.since),
                until=aware(args.until),
            )
            count = await _export(tools.scanner, selector)
            print(f"exported {count} events", file=sys.stderr)
            return 0
        answer: RoomAsOf | Receipts
        if args.audit == "room":
            answer = RoomAsOf(args.room_id, Cut(args.at_position, aware(args.at_time)))
        else:
            answer = Receipts(args.room_id, args.message_id)
        await _fold(tools.scanner, answer.observe)
        report = answer.report()
        if not report.get("asOfPosition", report.get("found")):
            raise FileNotFoundError(
                f"no room {args.room_id} in the log"
                if args.audit == "room"
                else f"no message {args.message_id} in room {args.room_id}"
            )
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    finally:
        await tools.close()
