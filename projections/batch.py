"""Projecting a batch of events at once, without I/O: the core every projection stage shares.

A store reads, before the batch, what the projector will ask about its events
(:class:`Prefetch`); :func:`project_batch` then runs the projector over the events in order
against a :class:`BatchView` that applies each event's own membership and presence changes
as it goes, so every event sees the ones before it, exactly as if they had been written one
at a time. The result says what to write: state changes (for a state writer), inbox appends
in order (for an inbox writer) and live notices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from domain.values import PresenceStatus
from projections import changes as ch
from projections.store import Projector
from proto.codec import Envelope, payload_kind

__all__ = ["BatchView", "Prefetch", "ProjectedBatch", "project_batch", "reads_of"]

_ONLINE = (PresenceStatus.ONLINE, PresenceStatus.AWAY)


@dataclass
class Prefetch:
    """What a store read for a batch: which of its rooms are room streams, members of the
    others and, for users whose presence changes, their rooms and their devices online."""

    members: dict[str, set[str]] = field(default_factory=dict)
    rooms_of: dict[str, set[str]] = field(default_factory=dict)
    online: dict[str, set[str]] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)
    """Rooms of the presence users that share no presence (unanswered direct rooms)."""
    streamed: dict[str, int] = field(default_factory=dict)
    """Room -> position its room stream starts at, for the batch's rooms that have one
    (their members are not read: nothing is fanned out to them)."""


def reads_of(envelopes: Iterable[Envelope]) -> tuple[set[str], set[str]]:
    """The rooms whose members, and the users whose rooms and devices, a batch needs. The
    members of a presence user's rooms are needed too; stores read them second."""
    rooms: set[str] = set()
    users: set[str] = set()
    for envelope in envelopes:
        kind = payload_kind(envelope)
        if kind == "presence_changed":
            users.add(envelope.presence_changed.user_id)
        elif kind in (
            "sessions_revoked",
            "namespace_configured",
            "api_key_created",
            "api_key_revoked",
        ):
            continue  # reads nothing: the revocation goes to the user's own inbox
        else:
            rooms.add(getattr(envelope, kind).room_id)
    return rooms, users


class BatchView:
    """The projector's view over a prefetch, moved along by the batch's own changes."""

    def __init__(self, prefetch: Prefetch) -> None:
        self._p = prefetch

    def members(self, room_id: str) -> frozenset[str]:
        return frozenset(self._p.members.get(room_id, ()))

    def contacts(self, user_id: str) -> frozenset[str]:
        out: set[str] = set()
        for room_id in self._p.rooms_of.get(user_id, ()):
            if room_id in self._p.streamed or room_id in self._p.quiet:
                continue  # a large room, or a direct room not answered yet
            out.update(self._p.members.get(room_id, ()))
        out.discard(user_id)
        return frozenset(out)

    def online_devices(self, user_id: str) -> frozenset[str]:
        return frozenset(self._p.online.get(user_id, ()))

    def stream_since(self, room_id: str) -> int:
        return self._p.streamed.get(room_id, 0)

    def apply(self, change: ch.Change) -> None:
        p = self._p
        match change:
            case ch.StartRoomStream(room_id, since):
                p.streamed.setdefault(room_id, since)
            case ch.AddMember(room_id, user_id):
                p.members.setdefault(room_id, set()).add(user_id)
                if user_id in p.rooms_of:
                    p.rooms_of[user_id].add(room_id)
            case ch.RemoveMember(room_id, user_id):
                p.members.get(room_id, set()).discard(user_id)
                p.rooms_of.get(user_id, set()).discard(room_id)
            case ch.SetQuiet(room_id, quiet):
                if quiet:
                    p.quiet.add(room_id)
                else:
                    p.quiet.discard(room_id)
            case ch.SetPresence(user_id, device_id, status):
                devices = p.online.setdefault(user_id, set())
                if status in _ONLINE:
                    devices.add(device_id)
                else:
                    devices.discard(device_id)
            case _:
                pass


@dataclass
class ProjectedBatch:
    state: list[tuple[Envelope, ch.Change]] = field(default_factory=list)
    """State changes in event order, each with its event (stores stamp writes with it)."""
    inbox: list[tuple[str, Envelope]] = field(default_factory=list)
    """(user, event) appends, in event order."""
    live: list[ch.LiveNotice | ch.RoomStreamEntry] = field(default_factory=list)
    """Live notices and room-stream entries, in event order (stores write the entries
    as state too: :class:`projections.changes.AppendRoomStream`)."""


def project_batch(
    events: Sequence[Envelope], prefetch: Prefetch, project: Projector
) -> ProjectedBatch:
    view = BatchView(prefetch)
    out = ProjectedBatch()
    for envelope in events:
        for change in project(envelope, view):
            if isinstance(change, ch.AppendInbox):
                out.inbox.extend((user_id, envelope) for user_id in sorted(change.user_ids))
            elif isinstance(change, ch.NotifyLive):
                out.live.append(ch.LiveNotice(change.user_ids, envelope, change.online))
            else:
                if isinstance(change, ch.AppendRoomStream):
                    out.live.append(ch.RoomStreamEntry(change.room_id, envelope.position, envelope))
                out.state.append((envelope, change))
                view.apply(change)
    return out
