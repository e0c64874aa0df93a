"""The pure projector: one event in, the changes to every read model out.

Read models: rooms, membership, room timelines, read states, presence, the per-user inbox
(fan-out on write of each room event to the room's members, Telegram's model) and, for
channels and large rooms, the room stream their members follow directly by room position
(Telegram's channels): their inboxes then get only what concerns them (ADR 14).
"""

from __future__ import annotations

from typing import Protocol

from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import AckKind, PresenceStatus, RoomKind
from projections import changes as ch
from proto.codec import Envelope, occurred_seconds, payload_kind

__all__ = ["ProjectionView", "project"]


class ProjectionView(Protocol):
    """Reads a projector may make. Contract: they see every change applied before, including
    those of earlier events in the same batch."""

    def members(self, room_id: str) -> frozenset[str]: ...

    def contacts(self, user_id: str) -> frozenset[str]:
        """Users who share at least one room with ``user_id`` (not including them)."""

    def online_devices(self, user_id: str) -> frozenset[str]: ...

    def stream_since(self, room_id: str) -> int:
        """The room position from which the room is a room stream; 0 if it is not one."""


def _time(envelope: Envelope) -> str:
    return str(envelope.occurred_at.ToJsonString())


def project(envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
    kind = payload_kind(envelope)
    if kind == "acked":
        return _project_ack(envelope, view)
    if kind == "presence_changed":
        return _project_presence(envelope, view)
    if kind == "sessions_revoked":
        return _project_revocation(envelope)
    if kind == "namespace_configured":
        return []  # the log is its record (docs/namespaces.md); no read model needs it
    if kind == "api_key_created":
        k = envelope.api_key_created
        return [
            ch.SetApiKey(
                k.key_id,
                k.name,
                tuple(k.scopes),
                tuple(k.namespaces),
                k.secret_hash,
                _time(envelope),
                envelope.actor.user_id,
            )
        ]
    if kind == "api_key_revoked":
        return [ch.RevokeApiKey(envelope.api_key_revoked.key_id, _time(envelope))]
    return _project_room_event(kind, envelope, view)


def _project_room_event(kind: str, envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
    payload = getattr(envelope, kind)
    room_id: str = payload.room_id
    streamed = view.stream_since(room_id) > 0
    members = frozenset() if streamed else view.members(room_id)
    out: list[ch.Change] = []
    if kind in ("room_created", "room_settings_changed"):
        room_kind = payload.kind if kind == "room_created" else 0
        out.append(ch.UpsertRoom(room_id, room_kind, payload.name, payload.public))
        if envelope.namespace and kind == "room_created":
            out.append(ch.SetNamespace(room_id, envelope.namespace))
        if room_kind != RoomKind.DIRECT:
            namespace = envelope.namespace or DEFAULT_NAMESPACE
            out.append(ch.ListRoom(room_id, namespace, payload.name, payload.public, room_kind))
        if room_kind == RoomKind.DIRECT:
            out.append(ch.SetQuiet(room_id, True))
        if room_kind == RoomKind.CHANNEL:
            out.append(ch.StartRoomStream(room_id, envelope.position))
            streamed = True
    elif kind == "room_stream_started":
        out.append(ch.StartRoomStream(room_id, envelope.position))
    elif kind == "member_joined":
        out.append(ch.AddMember(room_id, payload.user_id, payload.role, envelope.position))
        members = members | {payload.user_id}
    elif kind == "member_left":
        out.append(ch.RemoveMember(room_id, payload.user_id))
    elif kind == "member_role_changed":
        out.append(ch.SetRole(room_id, payload.user_id, payload.role))
    elif kind == "message_posted":
        out.append(
            ch.StoreMessage(
                room_id=room_id,
                position=envelope.position,
                message_id=payload.message_id,
                author_id=envelope.actor.user_id,
                client_msg_id=payload.client_msg_id,
                text=payload.text,
                posted_at=_time(envelope),
                trace_id=envelope.trace_id,
            )
        )
    elif kind == "message_edited":
        out.append(ch.EditMessage(room_id, payload.message_id, payload.text))
    elif kind == "message_deleted":
        out.append(ch.DeleteMessage(room_id, payload.message_id))
    elif kind == "room_deleted":
        out.append(ch.UnlistRoom(room_id, envelope.namespace or DEFAULT_NAMESPACE))
    elif kind == "direct_answered":
        out.append(ch.SetQuiet(room_id, False))
    elif kind == "ban_lifted" and not streamed:
        members = members | {payload.user_id}  # they learn they may join again
    out.append(ch.AdvanceRoom(room_id, envelope.position, _time(envelope)))
    if streamed:
        out.append(ch.AppendRoomStream(room_id, envelope))
        # What a member must not miss about a room they follow: being added, removed, or
        # given another role (their clients start or stop following on it).
        subject = _SUBJECT_OF.get(kind)
        if subject is not None:
            out.append(ch.AppendInbox(frozenset({getattr(payload, subject)}), envelope))
        return out
    if kind == "room_stream_started":
        # The move: every member learns, at this room position, to follow the stream.
        out.append(ch.AppendRoomStream(room_id, envelope))
    if members:
        out.append(ch.AppendInbox(members, envelope))
    return out


_SUBJECT_OF = {
    "member_joined": "user_id",
    "member_left": "user_id",
    "member_role_changed": "user_id",
    "ban_lifted": "user_id",
}


def _project_ack(envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
    ack = envelope.acked
    out: list[ch.Change] = [ch.RaiseReadState(ack.user_id, ack.room_id, ack.kind, ack.up_to)]
    if view.stream_since(ack.room_id):
        # The stream is dense: every room position is in it, receipts included.
        out.append(ch.AppendRoomStream(ack.room_id, envelope))
        return out
    members = view.members(ack.room_id)
    # Read receipts are part of the room's conversation; delivery receipts stay in the log.
    if int(ack.kind) == AckKind.READ and ack.user_id in members:
        out.append(ch.AppendInbox(members, envelope))
    return out


def _project_revocation(envelope: Envelope) -> list[ch.Change]:
    """The user's inbox carries the revocation, so every gateway holding one of their
    sockets sees it, in order, and closes the revoked ones."""
    r = envelope.sessions_revoked
    return [
        ch.SetRevocation(r.user_id, r.device_id, occurred_seconds(envelope)),
        ch.AppendInbox(frozenset({r.user_id}), envelope),
    ]


def _project_presence(envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
    p = envelope.presence_changed
    devices = set(view.online_devices(p.user_id))
    if int(p.status) == PresenceStatus.OFFLINE:
        devices.discard(p.device_id)
    else:
        devices.add(p.device_id)
    audience = view.contacts(p.user_id) | {p.user_id}
    return [
        ch.SetPresence(p.user_id, p.device_id, p.status, _time(envelope)),
        ch.NotifyLive(audience, envelope, online=bool(devices)),
    ]
