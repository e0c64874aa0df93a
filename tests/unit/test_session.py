"""The session core is fed frames and clock ticks; no sockets, no event loop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from api.session import CloseCode, Session, SessionConfig, State

CONFIG = SessionConfig(
    heartbeat_interval=10, heartbeat_timeout=5, connect_timeout=3, max_queued_frames=5
)


def frames(session: Session) -> list[dict[str, Any]]:
    return [json.loads(f) for f in session.frames_to_send()]


def connected(config: SessionConfig = CONFIG, now: float = 0.0) -> Session:
    session = Session(config, now)
    frame = session.receive_text('{"id":"1","connect":{"token":"t"}}', now)
    assert frame is not None and frame.WhichOneof("command") == "connect"
    session.authenticated("alice", "d1", expires_at=now + 1000.0, issued_at=now, now=now)
    session.recovered('{"reply":{"id":"1"}}', 0, [], complete_required=False)
    session.frames_to_send()
    return session


def test_first_frame_must_be_connect() -> None:
    session = Session(CONFIG, 0)
    assert session.receive_text('{"id":"1","send":{"roomId":"r","text":"x"}}', 0) is None
    assert session.close_code == CloseCode.UNAUTHORIZED
    assert frames(session)[0]["reply"]["error"]["code"] == "UNAUTHORIZED"


def test_bad_frames_get_error_replies_and_keep_the_connection() -> None:
    session = connected()
    for text, code in [
        ("not json", "BAD_REQUEST"),
        ('{"id":"2","launch":{}}', "UNKNOWN_COMMAND"),
        ('{"id":"3","send":{"roomId":7}}', "BAD_REQUEST"),
        ('{"send":{"roomId":"r"}}', "BAD_REQUEST"),
    ]:
        assert session.receive_text(text, 1) is None
        (reply,) = frames(session)
        assert reply["reply"]["error"]["code"] == code, text
    assert session.state is State.OPEN


def test_error_replies_echo_the_frame_id_when_readable() -> None:
    session = connected()
    session.receive_text('{"id":"42","send":{"roomId":7}}', 1)
    assert frames(session)[0]["reply"]["id"] == "42"


def test_live_pushes_during_recovery_are_buffered_and_merged() -> None:
    session = Session(CONFIG, 0)
    session.receive_text('{"id":"1","connect":{"token":"t"}}', 0)
    session.authenticated("alice", "d1", 1e12, 0.0, 0.0)
    session.push_inbox(5, "live-5")
    session.push_inbox(4, "live-4")
    session.recovered("reply", 2, [(3, "h-3"), (4, "h-4")], complete_required=True)
    assert session.frames_to_send() == ["reply", "h-3", "h-4", "live-5"]
    session.push_inbox(5, "again-5")  # duplicate: dropped
    session.push_inbox(6, "live-6")
    assert session.frames_to_send() == ["live-6"]


def test_a_gap_during_recovery_is_never_hidden() -> None:
    session = Session(CONFIG, 0)
    session.receive_text('{"id":"1","connect":{"token":"t"}}', 0)
    session.authenticated("alice", "d1", 1e12, 0.0, 0.0)
    session.push_inbox(6, "live-6")
    session.recovered("reply", 2, [(3, "h-3")], complete_required=True)
    assert session.close_code == CloseCode.RESYNC_REQUIRED


def test_a_live_gap_forces_a_resume() -> None:
    session = connected()
    session.push_inbox(1, "e1")
    session.push_inbox(3, "e3")
    assert session.close_code == CloseCode.RESYNC_REQUIRED


def test_a_client_that_does_not_read_is_disconnected() -> None:
    session = connected()
    for position in range(1, 7):
        session.push_inbox(position, f"e{position}")
    assert session.close_code == CloseCode.SLOW_CONSUMER


def test_heartbeat_ping_then_timeout() -> None:
    session = connected()
    session.tick(10)
    assert frames(session) == [{"push": {"ping": {}}}]
    session.tick(14)
    assert session.close_code is None
    session.tick(16)
    assert session.close_code == CloseCode.HEARTBEAT_TIMEOUT


def test_pong_keeps_the_connection_alive() -> None:
    session = connected()
    session.tick(10)
    session.receive_text('{"pong":{}}', 12)
    session.tick(16)
    assert session.close_code is None


def test_connect_timeout() -> None:
    session = Session(CONFIG, 0)
    session.tick(4)
    assert session.close_code == CloseCode.CONNECT_TIMEOUT


def test_token_expiry_closes_unless_refreshed() -> None:
    session = connected()
    assert session.refresh(2000.0, 1.0, 1.0)
    session.tick(1005)
    assert session.close_code is None
    session.tick(2011)
    assert session.close_code == CloseCode.TOKEN_EXPIRED


def test_second_connect_is_rejected() -> None:
    session = connected()
    assert session.receive_text('{"id":"9","connect":{"token":"t"}}', 1) is None
    assert frames(session)[0]["reply"]["error"]["code"] == "BAD_REQUEST"


def test_nothing_precedes_the_connect_reply() -> None:
    session = Session(CONFIG, 0)
    session.receive_text('{"id":"1","connect":{"token":"t"}}', 0)
    session.authenticated("alice", "d1", 1e12, 0.0, 0.0)
    session.send("presence-notice")
    session.push_inbox(1, "live-1")
    session.recovered("reply", 0, [], complete_required=True)
    assert session.frames_to_send() == ["reply", "live-1", "presence-notice"]


def test_a_room_stream_is_recovered_then_followed_densely() -> None:
    session = connected()
    session.follow("r1")
    session.push_room("r1", 12, "live-12")  # arrives while the history is read: buffered
    session.push_room("r2", 1, "not-followed")  # ignored
    missed = session.room_recovered(
        "r1", "reply", 9, [(10, "h-10"), (11, "h-11"), (12, "h-12")], complete_required=True
    )
    assert missed == 3
    assert session.frames_to_send() == ["reply", "h-10", "h-11", "h-12"]
    session.push_room("r1", 12, "again")  # a duplicate is dropped
    session.push_room("r1", 13, "live-13")
    assert session.frames_to_send() == ["live-13"]
    session.push_room("r1", 15, "live-15")  # a hole: resume rather than hide it
    assert session.close_code == CloseCode.RESYNC_REQUIRED


def test_a_room_stream_history_with_a_hole_is_refused() -> None:
    session = connected()
    session.follow("r1")
    session.room_recovered("r1", "reply", 3, [(4, "h-4"), (6, "h-6")], complete_required=True)
    assert session.close_code == CloseCode.RESYNC_REQUIRED
    assert "reply" not in session.frames_to_send()


def test_unfollowed_rooms_push_nothing() -> None:
    session = connected()
    session.follow("r1")
    session.room_recovered("r1", "reply", 5, [], complete_required=False)
    session.frames_to_send()
    session.unfollow("r1")
    session.push_room("r1", 6, "live-6")
    assert session.frames_to_send() == []
    assert session.followed == []


def test_the_queue_bound_counts_every_frame_not_yet_taken() -> None:
    session = connected()
    for i in range(5):
        session.send(f"f{i}")
    assert session.next_frame() == "f0"  # taken to be written: no longer queued
    session.send("f5")
    assert session.close_code is None
    session.send("f6")  # 6 waiting > max_queued_frames (5)
    assert session.close_code == CloseCode.SLOW_CONSUMER


def test_commands_sent_right_after_connect_wait_behind_it() -> None:
    session = Session(CONFIG, 0)
    assert session.receive_text('{"id":"1","connect":{"token":"t"}}', 0) is not None
    # The driver has not run connect yet; a pipelined send is queued, not refused.
    frame = session.receive_text('{"id":"2","send":{"roomId":"r","text":"x"}}', 0)
    assert frame is not None and frame.WhichOneof("command") == "send"
    assert session.close_code is None


def test_the_queue_bound_counts_bytes_not_yet_taken() -> None:
    config = dataclasses.replace(CONFIG, max_queued_frames=1000, max_queued_bytes=100)
    session = connected(config)
    session.send("a" * 60)
    assert session.next_frame() == "a" * 60  # taken: its bytes no longer count
    session.send("b" * 60)
    assert session.frames_to_send() == ["b" * 60]  # all taken: nothing counts
    session.send("c" * 60)
    assert session.close_code is None  # 60 bytes waiting
    session.send("d" * 60)  # 120 bytes waiting > 100
    assert session.close_code == CloseCode.SLOW_CONSUMER


def test_timers_count_from_the_session_clock_not_from_zero() -> None:
    """Heartbeats, pong, connect and token deadlines, each just before and just after."""
    start = 1000.0
    config = dataclasses.replace(CONFIG, token_leeway=2.0)
    session = connected(config, now=start)
    session.refresh(start + 3600, start, start)
    session.tick(start + 9.5)  # the interval (10) not yet over
    assert frames(session) == []
    session.tick(start + 10)
    assert frames(session) == [{"push": {"ping": {}}}]
    session.receive_text('{"pong":{}}', start + 11)
    session.tick(start + 19.5)
    assert frames(session) == []  # the next ping counts from the last one
    session.tick(start + 20)
    assert frames(session) == [{"push": {"ping": {}}}]
    session.tick(start + 25)  # exactly the pong timeout (5): still in time
    assert session.close_code is None
    session.tick(start + 25.5)
    assert session.close_code == CloseCode.HEARTBEAT_TIMEOUT

    waiting = Session(config, start)
    waiting.tick(start + 3)  # exactly the connect timeout (3)
    assert waiting.close_code is None
    waiting.tick(start + 3.5)
    assert waiting.close_code == CloseCode.CONNECT_TIMEOUT

    expiring = connected(config, now=start)
    expiring.refresh(start + 5, start, start)
    expiring.tick(start + 7)  # expiry + leeway (2): still valid
    assert expiring.close_code is None
    expiring.tick(start + 7.5)
    assert expiring.close_code == CloseCode.TOKEN_EXPIRED


def test_close_codes_are_the_documented_ones() -> None:
    documented = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for code in CloseCode:
        assert f"| {code.value} |" in documented or f"| `{code.value}` |" in documented, code


def test_refresh_never_extends_a_session_beyond_its_maximum_age() -> None:
    config = dataclasses.replace(CONFIG, max_session_age=100.0, token_leeway=0.0)
    session = connected(config, now=0.0)
    assert session.refresh(10_000.0, 50.0, 50.0)
    session.tick(99.5)
    assert session.close_code is None
    session.tick(100.5)  # the token is valid, the session is too old
    assert session.close_code == CloseCode.TOKEN_EXPIRED
    old = connected(config, now=0.0)
    assert not old.refresh(10_000.0, 100.0, 100.0)


def test_a_revocation_closes_sessions_of_older_tokens_on_that_device() -> None:
    other_device = connected()
    other_device.revoked("d2", at=5.0)
    assert other_device.close_code is None
    newer = connected()
    newer.issued_at = 10.0
    newer.revoked("d1", at=5.0)
    assert newer.close_code is None
    same_second = connected()
    same_second.issued_at = 5.0
    same_second.revoked("", at=5.0)
    assert same_second.close_code == CloseCode.REVOKED
    device = connected()
    device.revoked("d1", at=5.0)
    assert device.close_code == CloseCode.REVOKED
