"""``tidings decode``: the event log as JSON lines (protobuf JSON mapping), in either mode."""

from __future__ import annotations

import sys

import orjson

from api.runtime import open_log_tools
from api.settings import Settings
from proto.codec import envelope_from_bytes, envelope_to_dict

__all__ = ["run_decode"]


async def run_decode(settings: Settings, limit: int = 0) -> int:
    """Prints every committed event up to the current end (or the first ``limit``)."""
    tools = await open_log_tools(settings)
    out = sys.stdout.buffer
    printed = 0
    try:
        async for record in tools.scanner.scan():
            line = {
                "partition": record.partition,
                "offset": record.offset,
                "event": envelope_to_dict(envelope_from_bytes(record.data)),
            }
            out.write(orjson.dumps(line) + b"\n")
            printed += 1
            if limit and printed >= limit:
                break
    finally:
        out.flush()
        await tools.close()
    return 0
