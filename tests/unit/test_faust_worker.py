"""The processor's Faust worker keeps library debug logging off at quiet log levels."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import faust
import pytest

from streams.faust_app import quiet_worker


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.parametrize("level", ["WARNING", "ERROR", "INFO"])
def test_library_debug_calls_build_no_records(root_logging: None, level: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        app = faust.App("quiet-worker-test", broker="kafka://127.0.0.1:1", loop=loop)
        worker = quiet_worker(app, loop, level)
        worker._setup_logging()  # what the worker does when it starts
        assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("tidings").isEnabledFor(logging.getLevelName(level))
    finally:
        loop.close()
