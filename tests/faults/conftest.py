from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST
from tests.e2e.server import DistributedStack

__all__ = ["FAST"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DistributedStack]:
    """A distributed stack of its own (1 processor, 2 gateways): fault tests kill parts of it."""
    stack = DistributedStack(tmp_path, FAST)
    stack.start()
    yield stack
    stack.stop()
