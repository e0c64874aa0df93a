"""Fixtures of the in-process tests (tests/inprocess/harness.py)."""

from tests.inprocess.harness import client, connect, settings

__all__ = ["client", "connect", "settings"]
