"""The checker finds each kind of violation it reports, and nothing in a clean history."""

from __future__ import annotations

from uuid import uuid4

from domain.room import Room
from domain.values import EventMeta
from projections.checker import (
    Acked,
    Findings,
    InboxCheck,
    LogAudit,
    ProjectionDigest,
    RoomStreamCheck,
    compare_digests,
)
from proto.codec import Envelope, encode_event

ALICE = EventMeta("alice", "d1", "t")


def history(messages: int = 3) -> tuple[str, list[Envelope]]:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(EventMeta("bob"))
    for i in range(messages):
        room.post_message(ALICE, f"c{i}", f"hello {i}")
    return str(room.id), [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]


def audit(envelopes: list[Envelope], acked: list[Acked] = ()) -> tuple[LogAudit, Findings]:  # type: ignore[assignment]
    findings = Findings()
    log = LogAudit(findings)
    for envelope in envelopes:
        log.observe(envelope)
    log.check_acked(acked)
    return log, findings


def acked_of(room_id: str, envelope: Envelope) -> Acked:
    return Acked(envelope.event_id, room_id, envelope.message_posted.client_msg_id)


def test_a_clean_history_passes_and_is_counted() -> None:
    room_id, events = history()
    log, findings = audit(events, [acked_of(room_id, e) for e in events[3:]])
    assert findings.ok
    assert findings.counts["log_events"] == 6  # created, 2 joins, 3 posts
    assert findings.counts["log_messages"] == 3
    assert findings.counts["acknowledged_in_log"] == 3
    assert log.rooms == {room_id}
    assert log.users == {"alice", "bob"}


def test_an_acknowledged_send_missing_from_the_log_is_reported() -> None:
    room_id, events = history()
    _, findings = audit(events[:-1], [acked_of(room_id, events[-1])])
    assert findings.counts["acked_missing"] == 1
    assert not findings.ok


def test_an_ack_naming_another_event_than_the_logged_send_is_reported() -> None:
    room_id, events = history()
    wrong = Acked(events[3].event_id, room_id, events[4].message_posted.client_msg_id)
    _, findings = audit(events, [wrong])
    assert findings.counts["acked_missing"] == 1


def test_duplicates_gaps_and_reordering_in_the_log_are_reported() -> None:
    _, events = history(4)
    _, findings = audit([*events, events[3]])
    assert findings.counts["log_duplicates"] == 1

    _, findings = audit([events[0], events[1], events[3]])
    assert findings.counts["log_gaps"] == 1

    _, findings = audit([events[0], events[2], events[1]])
    assert findings.counts["log_order_violations"] == 1

    resent = Envelope()
    resent.CopyFrom(events[-1])
    resent.position, resent.event_id = events[-1].position + 1, "another-id"
    _, findings = audit([*events, resent])
    assert findings.counts["log_duplicates"] == 1  # same clientMsgId twice in one room


def test_inbox_gaps_duplicates_and_order_are_reported() -> None:
    _, events = history(3)
    findings = Findings()
    check = InboxCheck("bob", findings)
    check.observe(1, events[2])
    check.observe(3, events[4])  # gap at 2
    check.observe(4, events[3])  # stream order violated
    check.observe(5, events[4])  # duplicate
    assert findings.counts["inbox_gaps"] == 1
    assert findings.counts["inbox_order_violations"] == 1
    assert findings.counts["inbox_duplicates"] == 1


def test_room_stream_gaps_and_duplicates_are_reported() -> None:
    room = Room.create_channel(uuid4(), EventMeta("olga"), "news", True)
    for i in range(4):
        room.post_message(EventMeta("olga"), f"c{i}", f"m{i}")
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    clean, broken = Findings(), Findings()
    check = RoomStreamCheck(str(room.id), 1, clean)
    for envelope in events:
        check.observe(envelope)
    check.finish(6)
    assert clean.ok and clean.counts["room_stream_events"] == 6
    check = RoomStreamCheck(str(room.id), 1, broken)
    for envelope in [events[0], events[2], events[2], events[3]]:  # 2 missing, 3 twice
        check.observe(envelope)
    check.finish(6)  # 5 and 6 missing at the end
    assert broken.counts["room_stream_gaps"] == 2
    assert broken.counts["room_stream_duplicates"] == 1
    assert not broken.ok


def test_digests_that_differ_name_the_room_or_user_part() -> None:
    live = ProjectionDigest(rooms={"r": {"timeline": "a", "members": "m"}}, users={"u": {}})
    rebuilt = ProjectionDigest(rooms={"r": {"timeline": "b", "members": "m"}}, users={"u": {}})
    findings = Findings()
    assert compare_digests(live, rebuilt, findings) == ["room r timeline"]
    assert findings.counts["projection_differences"] == 1
    assert compare_digests(live, live, Findings()) == []


def test_application_events_are_counted_and_their_acks_checked() -> None:
    room = Room.create_group(uuid4(), ALICE, "board", True)
    room.emit(ALICE, "mark", '{"x":1}', "e-1")
    room.emit(ALICE, "mark", '{"x":2}', "e-2")
    room_id, events = str(room.id), [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    first, second = events[2], events[3]
    _, findings = audit(events, [Acked(first.event_id, room_id, client_event_id="e-1")])
    assert findings.ok and findings.counts["log_app_events"] == 2
    assert findings.counts["acknowledged_in_log"] == 1
    lost = Acked("not-logged", room_id, client_event_id="e-3")
    _, findings = audit(events, [lost])
    assert findings.counts["acked_missing"] == 1
    wrong = Acked(second.event_id, room_id, client_event_id="e-1")  # e-1 is another event
    _, findings = audit(events, [wrong])
    assert findings.counts["acked_missing"] == 1
    twice = Envelope()
    twice.CopyFrom(second)
    twice.position, twice.event_id = 5, "another-id"
    twice.event_emitted.client_event_id = "e-1"
    _, findings = audit([*events, twice])
    assert findings.counts["log_duplicates"] == 1


def test_two_senders_may_pick_the_same_client_message_id() -> None:
    """A clientMsgId is its sender's (the server deduplicates per room and sender)."""
    bob = EventMeta("bob", "d2", "t")
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(bob)
    room.post_message(ALICE, "same", "from alice")
    room.post_message(bob, "same", "from bob")
    room_id = str(room.id)
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    _, findings = audit(events, [acked_of(room_id, e) for e in events[-2:]])
    assert findings.ok, findings.report()
    assert findings.counts["acknowledged_in_log"] == 2
