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
