"""``tidings verify``: opens the log and the live store, prints the findings as JSON."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

from api.runtime import open_log_tools
from api.settings import Settings
from projections.checker import Acked, Findings
from projections.store_sqlite import SqliteProjectionStore
from streams.verify import verify

__all__ = ["check", "run_verify"]


def load_acked(path: Path | None) -> list[Acked]:
    """The acknowledged sends; a line that is not one is an error naming the line."""
    if path is None:
        return []
    acked = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                acked.append(Acked.from_json(orjson.loads(line)))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}:{number}: not an acknowledged send "
                    f"(a JSON object with eventId, roomId, clientMsgId): {exc!r}"
                ) from None
    return acked


async def check(
    settings: Settings,
    acked: list[Acked],
    target_dir: Path | None = None,
    keyspace: str | None = None,
) -> Findings:
    """One verification, against a fresh rebuild in a temporary SQLite file, or against an
    existing replay (``target_dir`` embedded, ``keyspace`` distributed)."""
    tools = await open_log_tools(settings)
    try:
        live = await tools.live()
        if target_dir is not None or keyspace is not None:
            target = await tools.target(target_dir, keyspace, create=False)
            return await verify(tools.scanner, live, target.store, acked, rebuild=False)
        with tempfile.TemporaryDirectory(prefix="tidings-verify-") as tmp:
            rebuilt = SqliteProjectionStore(Path(tmp) / "rebuilt.sqlite")
            try:
                return await verify(tools.scanner, live, rebuilt, acked)
            finally:
                await rebuilt.close()
    finally:
        await tools.close()


async def run_verify(
    settings: Settings,
    acked_path: Path | None,
    wait: float,
    target_dir: Path | None = None,
    keyspace: str | None = None,
) -> int:
    acked = load_acked(acked_path)
    deadline = time.monotonic() + wait
    while True:
        print("verifying: scanning the log and comparing the projections…", file=sys.stderr)
        findings = await check(settings, acked, target_dir, keyspace)
        if findings.ok or time.monotonic() >= deadline:
            break
        await asyncio.sleep(1.0)
    print(orjson.dumps(findings.report(), option=orjson.OPT_INDENT_2).decode())
    return 0 if findings.ok else 1
