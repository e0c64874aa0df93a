from __future__ import annotations

from api.recovery import Recovery, merge, plan_recovery


def test_plan_recovers_within_the_limit() -> None:
    plan = plan_recovery(5, "e", "e", head=8, limit=10)
    assert (plan.outcome, plan.start, plan.missed) == (Recovery.RECOVERED, 5, 3)


def test_plan_refuses_explicitly() -> None:
    assert plan_recovery(None, "", "e", 8, 10).outcome is Recovery.NOT_REQUESTED
    assert plan_recovery(5, "old", "e", 8, 10).outcome is Recovery.EPOCH_CHANGED
    assert plan_recovery(9, "e", "e", 8, 10).outcome is Recovery.FUTURE_POSITION
    too_far = plan_recovery(0, "e", "e", 20, 10)
    assert too_far.outcome is Recovery.TOO_FAR_BEHIND
    assert too_far.start == 20  # live continues from the head; REST pages the rest


def test_merge_orders_deduplicates_and_drops_old() -> None:
    items, top, complete = merge(2, [(3, "c"), (4, "d")], [(4, "d"), (5, "e"), (2, "b")])
    assert items == [(3, "c"), (4, "d"), (5, "e")]
    assert (top, complete) == (5, True)


def test_merge_detects_a_gap() -> None:
    _, top, complete = merge(2, [(3, "c")], [(5, "e")])
    assert (top, complete) == (5, False)


def test_merge_with_nothing_missed() -> None:
    assert merge(7, [], []) == ([], 7, True)


def test_plan_boundaries_are_recoverable() -> None:
    """At the head, exactly ``limit`` behind, and exactly at the floor: all recoverable."""
    assert plan_recovery(8, "e", "e", head=8, limit=10) == plan_recovery(8, "e", "e", 8, 10, 8)
    at_head = plan_recovery(8, "e", "e", head=8, limit=10)
    assert (at_head.outcome, at_head.start, at_head.missed) == (Recovery.RECOVERED, 8, 0)
    at_limit = plan_recovery(2, "e", "e", head=12, limit=10)
    assert (at_limit.outcome, at_limit.missed) == (Recovery.RECOVERED, 10)
    at_floor = plan_recovery(4, "e", "e", head=9, limit=10, floor=4)
    assert (at_floor.outcome, at_floor.missed) == (Recovery.RECOVERED, 5)
    below_floor = plan_recovery(3, "e", "e", head=9, limit=10, floor=4)
    assert (below_floor.outcome, below_floor.start) == (Recovery.TOO_FAR_BEHIND, 9)
    one_past_limit = plan_recovery(1, "e", "e", head=12, limit=10)
    assert one_past_limit.outcome is Recovery.TOO_FAR_BEHIND


def test_plan_any_other_epoch_changed_and_negative_positions_are_refused() -> None:
    assert plan_recovery(5, "a", "b", 8, 10).outcome is Recovery.EPOCH_CHANGED
    assert plan_recovery(5, "c", "b", 8, 10).outcome is Recovery.EPOCH_CHANGED
    assert plan_recovery(-1, "e", "e", 8, 10).outcome is Recovery.FUTURE_POSITION


def test_merge_drops_everything_at_or_before_the_start() -> None:
    items, top, complete = merge(5, [(1, "a"), (5, "e")], [(3, "c"), (6, "f")])
    assert (items, top, complete) == ([(6, "f")], 6, True)
