"""Pure resume logic: decide whether a client's position can be recovered, and merge.

Follows Centrifugo's algorithm: the gateway subscribes to live pushes first (buffering
them), then reads the history after the client's position, then merges both here. Inbox
positions are dense, so "complete" means exactly ``position + 1 .. top`` with no hole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

__all__ = ["Plan", "Recovery", "merge", "plan_recovery"]

T = TypeVar("T")


class Recovery(IntEnum):
    """Values match ``tidings.v1.Recovery``."""

    NOT_REQUESTED = 1
    RECOVERED = 2
    TOO_FAR_BEHIND = 3
    EPOCH_CHANGED = 4
    FUTURE_POSITION = 5


@dataclass(frozen=True, slots=True)
class Plan:
    outcome: Recovery
    start: int
    """Pushes continue after this position."""
    missed: int = 0
    """How many history entries to read (when recovering)."""


def plan_recovery(
    position: int | None, epoch: str, current_epoch: str, head: int, limit: int, floor: int = 0
) -> Plan:
    """What to do for a client at ``position`` of ``epoch`` when the stream is at ``head``.
    Positions below ``floor`` are not in the stream's history (a room stream that started
    at room position ``floor + 1``): too far behind."""
    if position is None:
        return Plan(Recovery.NOT_REQUESTED, head)
    if epoch != current_epoch:
        return Plan(Recovery.EPOCH_CHANGED, head)
    if position > head or position < 0:
        return Plan(Recovery.FUTURE_POSITION, head)
    if head - position > limit or position < floor:
        return Plan(Recovery.TOO_FAR_BEHIND, head)
    return Plan(Recovery.RECOVERED, position, head - position)


def merge(
    start: int, recovered: Iterable[tuple[int, T]], buffered: Iterable[tuple[int, T]]
) -> tuple[list[tuple[int, T]], int, bool]:
    """Merges history and buffered live items after ``start``.

    Returns the items in position order without duplicates, the last position, and whether
    the sequence is complete (no gap after ``start``). Items at or before ``start`` are dropped.
    """
    by_position: dict[int, T] = {}
    for position, item in (*recovered, *buffered):
        if position > start:
            by_position.setdefault(position, item)
    ordered = sorted(by_position.items())
    top = ordered[-1][0] if ordered else start
    complete = top - start == len(ordered)
    return ordered, top, complete
