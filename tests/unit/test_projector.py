from __future__ import annotations

from uuid import uuid4

from domain.room import Room
from domain.user import presence_changed
from domain.values import AckKind, EventMeta, PresenceStatus
from projections import changes as ch
from projections.projector import project
from proto.codec import Envelope, encode_event


class FakeView:
    def __init__(self, members: dict[str, set[str]], online: dict[str, set[str]]) -> None:
        self._members = members
        self._online = online

    def members(self, room_id: str) -> frozenset[str]:
        return frozenset(self._members.get(room_id, set()))

    def contacts(self, user_id: str) -> frozenset[str]:
        rooms = [m for m in self._members.values() if user_id in m]
        return frozenset(u for m in rooms for u in m if u != user_id)

    def online_devices(self, user_id: str) -> frozenset[str]:
        return frozenset(self._online.get(user_id, set()))

    def stream_since(self, room_id: str) -> int:
        return 0


ALICE = EventMeta("alice", "d1", "t")


def room_events() -> tuple[str, list[Envelope]]:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(EventMeta("bob"))
    room.post_message(EventMeta("bob"), "c1", "hi")
    return str(room.id), [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]


def test_a_message_is_stored_and_fanned_out_to_every_member() -> None:
    room_id, events = room_events()
    view = FakeView({room_id: {"alice", "bob"}}, {})
    changes = project(events[3], view)
    stored = [c for c in changes if isinstance(c, ch.StoreMessage)]
    assert stored and stored[0].author_id == "bob" and stored[0].position == 4
    inbox = [c for c in changes if isinstance(c, ch.AppendInbox)]
    assert inbox[0].user_ids == {"alice", "bob"}


def test_a_joining_member_receives_their_own_join() -> None:
    room_id, events = room_events()
    changes = project(events[2], FakeView({room_id: {"alice"}}, {}))
    inbox = [c for c in changes if isinstance(c, ch.AppendInbox)]
    assert inbox[0].user_ids == {"alice", "bob"}


def test_a_leaving_member_receives_their_own_leave() -> None:
    room = Room.create_group(uuid4(), ALICE, "g", True)
    room.join(EventMeta("bob"))
    room.leave(EventMeta("bob"))
    left = encode_event(room.collect_events()[-1], "e")  # type: ignore[arg-type]
    changes = project(left, FakeView({str(room.id): {"alice", "bob"}}, {}))
    assert ch.RemoveMember(str(room.id), "bob") in changes
    assert next(c for c in changes if isinstance(c, ch.AppendInbox)).user_ids == {"alice", "bob"}


def test_read_acks_reach_the_room_delivery_acks_do_not() -> None:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(EventMeta("bob"))
    room.ack(ALICE, AckKind.READ, 3)
    room.ack(ALICE, AckKind.DELIVERED, 3)
    *_, read_event, delivered_event = room.collect_events()
    room_id = str(room.id)
    view = FakeView({room_id: {"alice", "bob"}}, {})
    read = encode_event(read_event, "e")  # type: ignore[arg-type]
    delivered = encode_event(delivered_event, "e")  # type: ignore[arg-type]
    assert any(isinstance(c, ch.AppendInbox) for c in project(read, view))
    assert not any(isinstance(c, ch.AppendInbox) for c in project(delivered, view))
    assert ch.RaiseReadState("alice", room_id, AckKind.DELIVERED, 3) in project(delivered, view)


def test_presence_is_live_only_and_online_while_any_device_is() -> None:
    view = FakeView({"r": {"alice", "bob"}}, {"alice": {"d1", "d2"}})
    offline_d1 = encode_event(presence_changed(ALICE, 1, PresenceStatus.OFFLINE), "e")
    changes = project(offline_d1, view)
    notice = next(c for c in changes if isinstance(c, ch.NotifyLive))
    assert notice.online is True  # d2 is still online
    assert notice.user_ids == {"alice", "bob"}
    assert not any(isinstance(c, ch.AppendInbox) for c in changes)
    alone = FakeView({"r": {"alice", "bob"}}, {"alice": {"d1"}})
    assert (
        next(c for c in project(offline_d1, alone) if isinstance(c, ch.NotifyLive)).online is False
    )
