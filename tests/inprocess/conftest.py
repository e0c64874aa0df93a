"""Fixtures of the in-process tests (tests/inprocess/harness.py)."""

from tests.inprocess.harness import connect

__all__ = ["connect"]
