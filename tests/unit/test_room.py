from __future__ import annotations

import uuid
from uuid import uuid4

import pytest

from domain.errors import (
    AlreadyAMember,
    Banned,
    BanNotFound,
    InsufficientRole,
    InvalidArgument,
    LastOwnerCannotLeave,
    MemberNotFound,
    MessageNotFound,
    NotAMember,
    NotTheAuthor,
)
from domain.room import Room
from domain.values import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_USER_ID_LENGTH,
    AckKind,
    EventMeta,
    Role,
    RoomKind,
    check_user_id,
    direct_room_id,
    event_id,
)

ALICE, BOB, CAROL = EventMeta("alice"), EventMeta("bob"), EventMeta("carol")


def group(public: bool = True) -> Room:
    room = Room.create_group(uuid4(), ALICE, "general", public)
    room.collect_events()
    return room


def event_names(room: Room) -> list[str]:
    return [type(e).__name__ for e in room.collect_events()]


def test_creator_becomes_owner_and_positions_are_dense() -> None:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    events = room.collect_events()
    assert [type(e).__name__ for e in events] == ["RoomCreated", "MemberJoined"]
    assert [e.originator_version for e in events] == [1, 2]
    assert room.members == {"alice": Role.OWNER}


def test_anyone_joins_a_public_room_but_not_twice() -> None:
    room = group()
    room.join(BOB)
    assert event_names(room) == ["MemberJoined"]
    with pytest.raises(AlreadyAMember):
        room.join(BOB)


def test_private_rooms_are_joined_only_by_being_added() -> None:
    room = group(public=False)
    with pytest.raises(NotAMember):  # answered as if the room did not exist
        room.join(BOB)
    room.add_member(ALICE, "bob")
    assert room.is_member("bob")


def test_only_admins_and_owners_add_and_remove_members() -> None:
    room = group()
    room.join(BOB)
    with pytest.raises(InsufficientRole):
        room.add_member(BOB, "carol")
    with pytest.raises(NotAMember):
        room.add_member(CAROL, "dave")
    room.change_role(ALICE, "bob", Role.ADMIN)
    room.add_member(BOB, "carol")
    room.remove_member(BOB, "carol")
    assert not room.is_member("carol")


def test_admins_cannot_remove_owners_or_admins() -> None:
    room = group()
    room.add_member(ALICE, "bob", Role.ADMIN)
    room.add_member(ALICE, "carol", Role.ADMIN)
    with pytest.raises(InsufficientRole):
        room.remove_member(BOB, "alice")
    with pytest.raises(InsufficientRole):
        room.remove_member(BOB, "carol")


def test_only_owners_add_owners_and_change_roles() -> None:
    room = group()
    room.add_member(ALICE, "bob", Role.ADMIN)
    with pytest.raises(InsufficientRole):
        room.add_member(BOB, "carol", Role.OWNER)  # an admin adds no owner
    room.add_member(BOB, "carol", Role.ADMIN)  # an admin adds an admin
    with pytest.raises(InsufficientRole):
        room.change_role(BOB, "carol", Role.MEMBER)  # an admin changes no role
    room.add_member(ALICE, "dave", Role.OWNER)  # an owner adds an owner
    room.change_role(ALICE, "carol", Role.MEMBER)
    assert room.members["carol"] is Role.MEMBER and room.members["dave"] is Role.OWNER


def test_the_last_owner_cannot_step_down() -> None:
    room = group()
    room.join(BOB)
    with pytest.raises(LastOwnerCannotLeave):
        room.change_role(ALICE, "alice", Role.ADMIN)
    room.change_role(ALICE, "bob", Role.OWNER)
    room.change_role(ALICE, "alice", Role.ADMIN)  # another owner remains
    assert room.members == {"alice": Role.ADMIN, "bob": Role.OWNER}


def test_the_last_owner_cannot_leave_without_handing_over() -> None:
    room = group()
    room.join(BOB)
    with pytest.raises(LastOwnerCannotLeave):
        room.leave(ALICE)
    room.change_role(ALICE, "bob", Role.OWNER)
    room.leave(ALICE)
    assert room.members == {"bob": Role.OWNER}


def test_the_last_owner_may_leave_an_otherwise_empty_room() -> None:
    room = group()
    room.leave(ALICE)
    assert room.members == {}


def test_leaving_a_room_you_are_not_in_is_an_error() -> None:
    with pytest.raises(NotAMember):
        group().leave(BOB)


def test_only_members_post_and_text_is_checked() -> None:
    room = group()
    with pytest.raises(NotAMember):
        room.post_message(BOB, "c1", "hi")
    with pytest.raises(InvalidArgument):
        room.post_message(ALICE, "c1", "   ")
    with pytest.raises(InvalidArgument):
        room.post_message(ALICE, "c1", "x" * (MAX_TEXT_LENGTH + 1))
    assert event_names(room) == []


def test_a_repeated_client_message_id_posts_nothing_and_returns_the_original() -> None:
    room = group()
    first = room.post_message(ALICE, "c1", "hi")
    again = room.post_message(ALICE, "c1", "hi (retry)")
    assert again == first
    assert event_names(room) == ["MessagePosted"]
    # The key is per sender: another member may use the same client id.
    room.join(BOB)
    assert room.post_message(BOB, "c1", "hello") != first


def test_authors_edit_their_own_messages_only() -> None:
    room = group()
    room.join(BOB)
    message_id = room.post_message(ALICE, "", "hi")
    with pytest.raises(NotTheAuthor):
        room.edit_message(BOB, message_id, "hacked")
    room.edit_message(ALICE, message_id, "hi!")
    with pytest.raises(MessageNotFound):
        room.edit_message(ALICE, "nope", "x")


def test_admins_may_delete_any_message_members_only_their_own() -> None:
    room = group()
    room.join(BOB)
    room.join(CAROL)
    by_bob = room.post_message(BOB, "", "hi")
    with pytest.raises(NotTheAuthor):
        room.delete_message(CAROL, by_bob)
    room.delete_message(ALICE, by_bob)
    with pytest.raises(MessageNotFound):
        room.delete_message(BOB, by_bob)
    with pytest.raises(MessageNotFound):
        room.edit_message(BOB, by_bob, "again")


def test_acks_must_name_an_existing_position() -> None:
    room = group()
    room.ack(ALICE, AckKind.READ, room.version)
    assert event_names(room) == ["Acked"]
    with pytest.raises(InvalidArgument):
        room.ack(ALICE, AckKind.READ, room.version + 1)
    with pytest.raises(NotAMember):
        room.ack(BOB, AckKind.DELIVERED, 1)


def test_direct_conversations_have_two_members_and_no_admins() -> None:
    room = Room.create_direct(direct_room_id("alice", "bob"), ALICE, "bob")
    assert room.kind is RoomKind.DIRECT
    assert set(room.members) == {"alice", "bob"}
    with pytest.raises(NotAMember):
        room.join(CAROL)
    with pytest.raises(InsufficientRole):
        room.add_member(ALICE, "carol")
    with pytest.raises(InsufficientRole):
        room.leave(ALICE)
    with pytest.raises(InvalidArgument):
        Room.create_direct(uuid4(), ALICE, "alice")


def test_direct_room_id_does_not_depend_on_who_opens_it() -> None:
    assert direct_room_id("alice", "bob") == direct_room_id("bob", "alice")
    assert direct_room_id("alice", "bob") != direct_room_id("alice", "carol")


def test_in_a_channel_everybody_reads_and_only_admins_and_owners_post() -> None:
    channel = Room.create_channel(uuid4(), ALICE, "news", True)
    assert channel.kind is RoomKind.CHANNEL and channel.streamed_since == 1
    channel.join(BOB)
    channel.add_member(ALICE, "carol", Role.ADMIN)
    with pytest.raises(InsufficientRole):
        channel.post_message(BOB, "b1", "may I?")
    posted = channel.post_message(CAROL, "c1", "news from an admin")
    with pytest.raises(InsufficientRole):
        channel.edit_message(BOB, posted, "no")
    with pytest.raises(NotTheAuthor):
        channel.delete_message(BOB, posted)
    channel.ack(BOB, AckKind.READ, channel.version)  # readers still keep read states


def test_a_group_moves_to_its_room_stream_once_past_the_size() -> None:
    room = group()
    room.join(BOB)
    room.grow(BOB, large_room_members=2)
    assert not room.streamed and event_names(room) == ["MemberJoined"]
    room.join(CAROL)
    room.grow(CAROL, large_room_members=2)
    assert event_names(room) == ["MemberJoined", "StreamStarted"]
    assert room.streamed_since == room.version
    room.leave(CAROL)
    room.leave(BOB)
    room.join(BOB)
    room.join(CAROL)
    room.grow(CAROL, large_room_members=2)  # shrank and grew again: it stays where it is
    assert "StreamStarted" not in event_names(room)


def test_direct_conversations_never_move() -> None:
    room = Room.create_direct(uuid4(), ALICE, "bob")
    room.grow(ALICE, large_room_members=1)
    assert not room.streamed


def test_owners_remove_and_demote_other_owners() -> None:
    room = group()
    room.add_member(ALICE, "bob", Role.OWNER)
    room.change_role(ALICE, "bob", Role.ADMIN)  # an owner demotes another owner
    assert room.members["bob"] is Role.ADMIN
    room.change_role(ALICE, "bob", Role.OWNER)
    room.remove_member(ALICE, "bob")  # and removes one
    assert "bob" not in room.members


def test_client_message_ids_and_user_ids_up_to_their_limits_are_accepted() -> None:
    room = group()
    at_limit = "c" * MAX_CLIENT_MSG_ID_LENGTH
    room.post_message(ALICE, at_limit, "fits")
    with pytest.raises(InvalidArgument):
        room.post_message(ALICE, at_limit + "c", "too long an id")
    longest = "u" * MAX_USER_ID_LENGTH
    assert check_user_id(longest) == longest
    with pytest.raises(InvalidArgument):
        check_user_id(longest + "u")


def test_a_message_is_recorded_at_the_position_of_its_event() -> None:
    room = group()
    for text in ("one", "two", "three"):  # odd and even versions alike
        message_id = room.post_message(ALICE, "", text)
        assert room.messages[message_id].position == room.version


def test_event_ids_are_the_uuid5_of_stream_and_position() -> None:
    namespace = uuid.UUID("6f1c3b1e-7d0a-4f57-9a51-2f4c9b1f7a10")
    for stream, position in (("room:x", 1), ("user:alice", 12345), ("room:ü", 2**40)):
        expected = str(uuid.uuid5(namespace, f"{stream}#{position}"))
        assert event_id(stream, position) == expected


def test_a_growing_room_streams_from_the_position_of_the_move() -> None:
    room = group()
    for user in ("bob", "carol", "dave"):
        room.add_member(ALICE, user)
    assert room.version % 2 == 1  # so that neither version + 1 nor its neighbours coincide
    room.grow(ALICE, large_room_members=3)
    assert room.streamed and room.streamed_since == room.version
    room.grow(ALICE, large_room_members=3)  # once
    assert [type(e).__name__ for e in room.collect_events()].count("StreamStarted") == 1


def test_a_message_id_is_the_id_of_its_event() -> None:
    room = group()
    ids = [room.post_message(ALICE, "", text) for text in ("at an odd", "and an even position")]
    positions = [e.originator_version for e in room.collect_events()]
    assert ids == [event_id(room.stream, p) for p in positions]


def test_direct_conversations_are_private_and_need_two_people() -> None:
    for me, peer in (("bob", "alice"), ("alice", "bob")):  # ids sorting either way
        room = Room.create_direct(uuid4(), EventMeta(me), peer)
        assert not room.public and room.kind is RoomKind.DIRECT
    with pytest.raises(InvalidArgument):
        Room.create_direct(uuid4(), ALICE, "alice")


def test_authors_edit_their_own_messages_only_and_admins_delete_any() -> None:
    room = group()
    room.add_member(ALICE, "aaron")  # sorts before alice
    room.add_member(ALICE, "zed")  # and after
    room.add_member(ALICE, "adele", Role.ADMIN)
    message_id = room.post_message(ALICE, "", "mine")
    for other in ("aaron", "zed"):
        with pytest.raises(NotTheAuthor):
            room.edit_message(EventMeta(other), message_id, "theirs")
        with pytest.raises(NotTheAuthor):
            room.delete_message(EventMeta(other), message_id)
    room.delete_message(EventMeta("adele"), message_id)  # an admin deletes anyone's


def test_channel_owners_and_admins_post() -> None:
    channel = Room.create_channel(uuid4(), ALICE, "news", True)
    channel.add_member(ALICE, "adele", Role.ADMIN)
    channel.add_member(ALICE, "bob")
    assert channel.streamed and channel.streamed_since == 1
    channel.post_message(ALICE, "", "from the owner")
    channel.post_message(EventMeta("adele"), "", "from an admin")
    with pytest.raises(InsufficientRole):
        channel.post_message(BOB, "", "from a reader")


def test_a_room_at_or_below_the_size_does_not_move() -> None:
    room = group()
    room.add_member(ALICE, "bob")
    room.grow(ALICE, large_room_members=2)  # 2 members: not more than 2
    room.grow(ALICE, large_room_members=5)
    assert not room.streamed


def test_acks_name_an_existing_position_from_the_first() -> None:
    room = group()
    room.ack(ALICE, AckKind.READ, 1)
    for beyond in (0, room.version + 1):
        with pytest.raises(InvalidArgument):
            room.ack(ALICE, AckKind.READ, beyond)


def test_texts_and_names_up_to_their_limits_are_accepted() -> None:
    room = group()
    room.post_message(ALICE, "", "t" * MAX_TEXT_LENGTH)
    room.change_settings(ALICE, "n" * MAX_ROOM_NAME_LENGTH, True)
    with pytest.raises(InvalidArgument):
        room.change_settings(ALICE, "n" * (MAX_ROOM_NAME_LENGTH + 1), True)


def test_a_removed_member_is_banned_until_an_admin_lifts_it() -> None:
    room = group()
    room.join(BOB)
    room.join(CAROL)
    room.remove_member(ALICE, "bob")
    with pytest.raises(Banned):
        room.join(BOB)
    room.leave(CAROL)
    room.join(CAROL)  # leaving by yourself is no ban
    with pytest.raises(InsufficientRole):
        room.lift_ban(CAROL, "bob")
    with pytest.raises(BanNotFound):
        room.lift_ban(ALICE, "carol")
    room.lift_ban(ALICE, "bob")
    room.join(BOB)
    assert room.is_member("bob")


def test_an_admin_adding_a_banned_user_lifts_the_ban() -> None:
    room = group()
    room.join(BOB)
    room.remove_member(ALICE, "bob")
    room.add_member(ALICE, "bob")
    room.leave(BOB)
    room.join(BOB)
    assert "bob" not in room.banned


def test_commands_about_a_non_member_name_them() -> None:
    room = group()
    with pytest.raises(MemberNotFound, match="dave"):
        room.remove_member(ALICE, "dave")
    with pytest.raises(MemberNotFound):
        room.change_role(ALICE, "dave", Role.ADMIN)


def test_a_direct_room_is_answered_when_its_peer_posts() -> None:
    room = Room.create_direct(direct_room_id("alice", "bob"), ALICE, "bob")
    room.post_message(ALICE, "a1", "hello?")
    room.post_message(ALICE, "a2", "anyone?")
    assert not room.answered
    room.collect_events()
    room.post_message(BOB, "b1", "hi")
    assert room.answered
    assert event_names(room) == ["MessagePosted", "DirectAnswered"]
    room.post_message(BOB, "b2", "again")
    assert event_names(room) == ["MessagePosted"]  # once
    assert group().answered  # only direct rooms wait for an answer
