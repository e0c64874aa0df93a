"""Commands on the wire between gateways and the command processor (``tidings.commands``).

``encode_command`` / ``decode_command`` translate ``domain.commands`` to and from
``tidings.v1.CommandRecord``; ``command_key`` names the stream whose single writer decides it.
"""

from __future__ import annotations

from uuid import UUID

from google.protobuf.message import DecodeError

from domain import commands as c
from domain.apikeys import api_key_stream
from domain.namespaces import DEFAULT_NAMESPACE, namespace_stream
from domain.values import (
    AckKind,
    EventMeta,
    PresenceStatus,
    Role,
    RoomKind,
    direct_room_id,
    room_stream,
    user_stream,
)
from proto.codec import CodecError
from proto.tidings.v1 import events_pb2 as pb
from proto.tidings.v1 import internal_pb2 as ip

__all__ = ["CommandRecord", "command_key", "decode_command", "encode_command"]

CommandRecord = ip.CommandRecord


def command_key(command: c.Command) -> str:
    """The stream a command belongs to: its Kafka key, hence its partition and its writer."""
    match command:
        case c.ChangePresence(meta, _) | c.RevokeSessions(meta, _):
            return user_stream(meta.user_id)
        case c.ConfigureNamespace(_, name):
            return namespace_stream(name)
        case c.CreateApiKey(_, key_id) | c.RevokeApiKey(_, key_id):
            return api_key_stream(key_id)
        case c.OpenDirect(meta, peer_id, namespace):
            return room_stream(direct_room_id(meta.user_id, peer_id, namespace))
        case _:
            return room_stream(command.room_id)


def encode_command(command: c.Command, request_id: str, gateway_id: str) -> ip.CommandRecord:
    meta = command.meta
    record = ip.CommandRecord(
        request_id=request_id,
        gateway_id=gateway_id,
        actor=pb.Actor(user_id=meta.user_id, device_id=meta.device_id),
        trace_id=meta.trace_id,
        namespaces=sorted(meta.namespaces),
        namespace=meta.namespace,
        server=meta.server,
        backend_request_id=meta.request_id,
    )
    match command:
        case c.CreateRoom(_, room_id, name, public, kind, namespace):
            record.create_room.CopyFrom(
                ip.CreateRoomCommand(
                    room_id=str(room_id),
                    name=name,
                    public=public,
                    kind=int(kind),  # type: ignore[arg-type]
                    namespace=namespace,
                )
            )
        case c.OpenDirect(_, peer_id, namespace):
            record.open_direct.CopyFrom(ip.OpenDirectCommand(peer_id=peer_id, namespace=namespace))
        case c.JoinRoom(_, room_id):
            record.join_room.CopyFrom(ip.JoinRoomCommand(room_id=str(room_id)))
        case c.AddMember(_, room_id, user_id, role):
            record.add_member.CopyFrom(
                ip.AddMemberCommand(room_id=str(room_id), user_id=user_id, role=int(role))  # type: ignore[arg-type]
            )
        case c.LeaveRoom(_, room_id):
            record.leave_room.CopyFrom(ip.LeaveRoomCommand(room_id=str(room_id)))
        case c.RemoveMember(_, room_id, user_id):
            record.remove_member.CopyFrom(
                ip.RemoveMemberCommand(room_id=str(room_id), user_id=user_id)
            )
        case c.ChangeRole(_, room_id, user_id, role):
            record.change_role.CopyFrom(
                ip.ChangeRoleCommand(room_id=str(room_id), user_id=user_id, role=int(role))  # type: ignore[arg-type]
            )
        case c.ChangeRoomSettings(_, room_id, name, public):
            record.change_room_settings.CopyFrom(
                ip.ChangeRoomSettingsCommand(room_id=str(room_id), name=name, public=public)
            )
        case c.PostMessage(_, room_id, client_msg_id, text):
            record.post_message.CopyFrom(
                ip.PostMessageCommand(room_id=str(room_id), client_msg_id=client_msg_id, text=text)
            )
        case c.EmitEvent(_, room_id, name, payload, client_event_id):
            record.emit_event.CopyFrom(
                ip.EmitEventCommand(
                    room_id=str(room_id),
                    name=name,
                    payload_json=payload,
                    client_event_id=client_event_id,
                )
            )
        case c.EditMessage(_, room_id, message_id, text):
            record.edit_message.CopyFrom(
                ip.EditMessageCommand(room_id=str(room_id), message_id=message_id, text=text)
            )
        case c.DeleteMessage(_, room_id, message_id):
            record.delete_message.CopyFrom(
                ip.DeleteMessageCommand(room_id=str(room_id), message_id=message_id)
            )
        case c.AckRoom(_, room_id, kind, up_to):
            record.ack_room.CopyFrom(
                ip.AckRoomCommand(room_id=str(room_id), kind=int(kind), up_to=up_to)  # type: ignore[arg-type]
            )
        case c.ChangePresence(_, status):
            record.change_presence.CopyFrom(ip.ChangePresenceCommand(status=int(status)))  # type: ignore[arg-type]
        case c.RevokeSessions(_, device_id):
            record.revoke_sessions.CopyFrom(ip.RevokeSessionsCommand(device_id=device_id))
        case c.LiftBan(_, room_id, user_id):
            record.lift_ban.CopyFrom(ip.LiftBanCommand(room_id=str(room_id), user_id=user_id))
        case c.ConfigureNamespace(_, name, settings):
            record.configure_namespace.CopyFrom(
                ip.ConfigureNamespaceCommand(name=name, settings_json=settings)
            )
        case c.DeleteRoom(_, room_id):
            record.delete_room.room_id = str(room_id)
        case c.CreateApiKey(_, key_id, name, scopes, namespaces, secret_hash):
            record.create_api_key.CopyFrom(
                ip.CreateApiKeyCommand(
                    key_id=key_id,
                    name=name,
                    scopes=list(scopes),
                    namespaces=list(namespaces),
                    secret_hash=secret_hash,
                )
            )
        case c.RevokeApiKey(_, key_id):
            record.revoke_api_key.key_id = key_id
    return record


def decode_command(data: bytes) -> tuple[ip.CommandRecord, c.Command]:
    """Parses a command record; raises CodecError for anything malformed."""
    record = ip.CommandRecord()
    try:
        record.ParseFromString(data)
        return record, _command(record)
    except (DecodeError, ValueError, KeyError) as exc:
        raise CodecError(f"not a valid tidings.v1.CommandRecord: {exc}") from exc


def _command(record: ip.CommandRecord) -> c.Command:
    meta = EventMeta(
        record.actor.user_id,
        record.actor.device_id,
        record.trace_id,
        record.namespace,
        frozenset(record.namespaces or [DEFAULT_NAMESPACE]),
        server=record.server,
        request_id=record.backend_request_id,
    )
    kind = record.WhichOneof("command")
    if kind is None:
        raise ValueError("no command")
    p = getattr(record, kind)
    match kind:
        case "create_room":
            kind = RoomKind(p.kind) if p.kind else RoomKind.GROUP
            namespace = p.namespace or DEFAULT_NAMESPACE
            return c.CreateRoom(meta, UUID(p.room_id), p.name, p.public, kind, namespace)
        case "open_direct":
            return c.OpenDirect(meta, p.peer_id, p.namespace or DEFAULT_NAMESPACE)
        case "join_room":
            return c.JoinRoom(meta, UUID(p.room_id))
        case "add_member":
            return c.AddMember(meta, UUID(p.room_id), p.user_id, Role(p.role))
        case "leave_room":
            return c.LeaveRoom(meta, UUID(p.room_id))
        case "remove_member":
            return c.RemoveMember(meta, UUID(p.room_id), p.user_id)
        case "change_role":
            return c.ChangeRole(meta, UUID(p.room_id), p.user_id, Role(p.role))
        case "change_room_settings":
            return c.ChangeRoomSettings(meta, UUID(p.room_id), p.name, p.public)
        case "post_message":
            return c.PostMessage(meta, UUID(p.room_id), p.client_msg_id, p.text)
        case "emit_event":
            return c.EmitEvent(meta, UUID(p.room_id), p.name, p.payload_json, p.client_event_id)
        case "edit_message":
            return c.EditMessage(meta, UUID(p.room_id), p.message_id, p.text)
        case "delete_message":
            return c.DeleteMessage(meta, UUID(p.room_id), p.message_id)
        case "ack_room":
            return c.AckRoom(meta, UUID(p.room_id), AckKind(p.kind), p.up_to)
        case "change_presence":
            return c.ChangePresence(meta, PresenceStatus(p.status))
        case "revoke_sessions":
            return c.RevokeSessions(meta, p.device_id)
        case "lift_ban":
            return c.LiftBan(meta, UUID(p.room_id), p.user_id)
        case "configure_namespace":
            return c.ConfigureNamespace(meta, p.name, p.settings_json)
        case "delete_room":
            return c.DeleteRoom(meta, UUID(p.room_id))
        case "create_api_key":
            return c.CreateApiKey(
                meta, p.key_id, p.name, tuple(p.scopes), tuple(p.namespaces), p.secret_hash
            )
        case "revoke_api_key":
            return c.RevokeApiKey(meta, p.key_id)
    raise ValueError(f"unknown command {kind}")
