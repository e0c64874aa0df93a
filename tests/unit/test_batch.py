"""project_batch sees each event's predecessors in the batch, as one-at-a-time projection does."""

from __future__ import annotations

from uuid import uuid4

from domain.room import Room
from domain.user import presence_changed
from domain.values import EventMeta, PresenceStatus, Role
from projections import changes as ch
from projections.batch import Prefetch, project_batch, reads_of
from projections.projector import project
from proto.codec import Envelope, encode_event

ANN, BOB, CY = EventMeta("ann", "a1"), EventMeta("bob", "b1"), EventMeta("cy", "c1")


def a_busy_batch() -> list[Envelope]:
    """Membership and presence changing inside one batch: joins before presence, a leave
    between two messages, a device going offline."""
    room = Room.create_group(uuid4(), ANN, "r", True)
    room.add_member(ANN, "bob", Role.MEMBER)
    room.post_message(ANN, "1", "to bob")
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    events.append(encode_event(presence_changed(BOB, 1, PresenceStatus.ONLINE), "e"))
    events += a_room_becoming_a_stream()
    room.join(CY)
    room.post_message(BOB, "2", "to ann and cy")
    room.leave(BOB)
    room.post_message(ANN, "3", "to cy")
    events += [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    events.append(encode_event(presence_changed(CY, 1, PresenceStatus.ONLINE), "e"))
    events.append(encode_event(presence_changed(BOB, 2, PresenceStatus.OFFLINE), "e"))
    return events


def a_room_becoming_a_stream() -> list[Envelope]:
    """bob and cy share only this room, which moves to its room stream; cy joins after."""
    room = Room.create_group(uuid4(), BOB, "big", True)
    room.post_message(BOB, "s1", "before the move")
    room.add_member(BOB, "ann", Role.MEMBER)
    room.grow(BOB, large_room_members=1)
    room.post_message(BOB, "s2", "after the move")
    room.join(CY)
    room.post_message(CY, "s3", "cy in the stream")
    return [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]


class Reference:
    """The simplest complete view: every membership and device, updated after each event."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}
        self.devices: dict[str, set[str]] = {}
        self.streams: dict[str, int] = {}

    def members(self, room_id: str) -> frozenset[str]:
        return frozenset(self.rooms.get(room_id, ()))

    def contacts(self, user_id: str) -> frozenset[str]:
        mine = [m for r, m in self.rooms.items() if user_id in m and r not in self.streams]
        return frozenset(set().union(*mine) - {user_id}) if mine else frozenset()

    def online_devices(self, user_id: str) -> frozenset[str]:
        return frozenset(self.devices.get(user_id, ()))

    def stream_since(self, room_id: str) -> int:
        return self.streams.get(room_id, 0)

    def apply(self, change: ch.Change) -> None:
        if isinstance(change, ch.AddMember):
            self.rooms.setdefault(change.room_id, set()).add(change.user_id)
        elif isinstance(change, ch.RemoveMember):
            self.rooms[change.room_id].discard(change.user_id)
        elif isinstance(change, ch.StartRoomStream):
            self.streams.setdefault(change.room_id, change.since)
        elif isinstance(change, ch.SetPresence):
            devices = self.devices.setdefault(change.user_id, set())
            if change.status == PresenceStatus.OFFLINE:
                devices.discard(change.device_id)
            else:
                devices.add(change.device_id)


def one_at_a_time(events: list[Envelope]) -> tuple[list[ch.Change], list[tuple[str, str]]]:
    """The reference: project each event against the state left by the ones before it."""
    view = Reference()
    state: list[ch.Change] = []
    inbox: list[tuple[str, str]] = []
    for envelope in events:
        for change in project(envelope, view):
            if isinstance(change, ch.AppendInbox):
                inbox += [(u, envelope.event_id) for u in sorted(change.user_ids)]
            elif not isinstance(change, ch.NotifyLive):
                state.append(change)
                view.apply(change)
    return state, inbox


def test_a_batch_projects_as_its_events_would_one_at_a_time() -> None:
    events = a_busy_batch()
    _, users = reads_of(events)
    batch = project_batch(events, Prefetch(rooms_of={u: set() for u in users}), project)
    state, inbox = one_at_a_time(events)
    assert [change for _, change in batch.state] == state
    assert [(u, e.event_id) for u, e in batch.inbox] == inbox
    posted = {e.message_posted.client_msg_id: e.event_id for e in events if e.message_posted.text}
    # bob left before message 3: he gets 1 and 2, not 3; cy joined after 1: gets 2 and 3.
    received = {u: [e for user, e in inbox if user == u] for u in ("ann", "bob", "cy")}
    assert posted["1"] in received["bob"] and posted["3"] not in received["bob"]
    assert posted["1"] not in received["cy"] and posted["3"] in received["cy"]


def test_a_room_stream_takes_over_from_the_inbox_at_its_start() -> None:
    events = a_room_becoming_a_stream()
    batch = project_batch(events, Prefetch(), project)
    kinds = {e.event_id: e.WhichOneof("payload") for e in events}
    inbox = [(u, kinds[e.event_id], e.position) for u, e in batch.inbox]
    started = next(e.position for e in events if e.HasField("room_stream_started"))
    assert ("bob", "message_posted", 3) in inbox  # fanned out before the move
    assert ("ann", "room_stream_started", started) in inbox
    assert ("bob", "room_stream_started", started) in inbox
    assert ("cy", "member_joined", started + 2) in inbox  # what concerns cy only
    assert all(p <= started for _, k, p in inbox if k != "member_joined")
    streamed = [d.position for d in batch.live if isinstance(d, ch.RoomStreamEntry)]
    assert streamed == list(range(started, events[-1].position + 1))
    stored = [c for _, c in batch.state if isinstance(c, ch.AppendRoomStream)]
    assert [c.envelope.position for c in stored] == streamed


def test_presence_reaches_the_contacts_of_the_moment() -> None:
    events = a_busy_batch()
    _, users = reads_of(events)
    batch = project_batch(events, Prefetch(rooms_of={u: set() for u in users}), project)
    notices = {
        n.envelope.presence_changed.user_id + str(n.envelope.position): n
        for n in batch.live
        if isinstance(n, ch.LiveNotice)
    }
    assert notices["bob1"].user_ids == {"ann", "bob"}  # cy had not joined yet
    assert notices["cy1"].user_ids == {"ann", "cy"}  # bob had left
    assert notices["bob2"].online is False
