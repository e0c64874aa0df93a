"""Every test under ``e2e/`` and ``faults/`` starts real servers: marked ``e2e`` here, once,
so ``-m "not e2e"`` runs exactly the tests that need none."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVER_SUITES = frozenset({"e2e", "faults"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).parent.name in SERVER_SUITES:
            item.add_marker(pytest.mark.e2e)
