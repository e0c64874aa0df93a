"""The consistency checker's pure core: acknowledged sends vs the log vs the projections.

Three oracles, as in Kafka's and Jepsen's tests: the sends acknowledged to clients (A), the
events in the log (L) and the read models (P). Tidings promises A ⊆ L, no duplicate event or
client message id in L, dense ordered positions per stream, and P = fold(L). The I/O lives
elsewhere (``streams/verify.py``); everything here is plain data in, findings out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proto.codec import Envelope

__all__ = [
    "Acked",
    "Findings",
    "InboxCheck",
    "LogAudit",
    "ProjectionDigest",
    "RoomStreamCheck",
    "compare_digests",
]

_EXAMPLES = 20
"""How many examples of each kind of finding a report keeps (the counts are exact)."""


@dataclass(frozen=True, slots=True)
class Acked:
    """A send (or a durable application event) the server acknowledged to a client."""

    event_id: str
    room_id: str
    client_msg_id: str = ""
    client_event_id: str = ""
    """Set for an application event (docs/events.md) instead of ``client_msg_id``."""

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Acked:
        return cls(
            str(item["eventId"]),
            str(item["roomId"]),
            str(item.get("clientMsgId", "")),
            str(item.get("clientEventId", "")),
        )


@dataclass(slots=True)
class Findings:
    """Counts of what was checked and of each kind of violation, with a few examples each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    VIOLATIONS = (
        "acked_missing",
        "log_duplicates",
        "log_order_violations",
        "log_gaps",
        "inbox_duplicates",
        "inbox_gaps",
        "inbox_order_violations",
        "room_stream_gaps",
        "room_stream_duplicates",
        "projection_differences",
    )

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def violation(self, name: str, example: str) -> None:
        self.count(name)
        kept = self.examples.setdefault(name, [])
        if len(kept) < _EXAMPLES:
            kept.append(example)

    @property
    def ok(self) -> bool:
        return not any(self.counts.get(name, 0) for name in self.VIOLATIONS)

    def report(self) -> dict[str, Any]:
        counts = {name: self.counts.get(name, 0) for name in self.VIOLATIONS}
        return {
            "ok": self.ok,
            "counts": {**self.counts, **counts},
            "examples": {k: v for k, v in self.examples.items() if v},
        }


class LogAudit:
    """Folds the log once, in order, checking each stream and remembering what it saw."""

    def __init__(self, findings: Findings) -> None:
        self._findings = findings
        self._heads: dict[str, int] = {}
        self._event_ids: set[str] = set()
        self._sends: dict[tuple[str, str, str], str] = {}
        """(stream, sender, client message id) -> the event id of the first such message."""
        self._emits: dict[tuple[str, str, str], str] = {}
        """(stream, sender, client event id) -> the event id of the first such event."""
        self._sender: dict[str, str] = {}
        """Event id -> its sender, for the events that carry a client id."""
        self.rooms: set[str] = set()
        self.users: set[str] = set()

    def observe(self, envelope: Envelope) -> None:
        f = self._findings
        f.count("log_events")
        stream, position = envelope.stream, envelope.position
        if envelope.event_id in self._event_ids:
            f.violation("log_duplicates", f"event {envelope.event_id} ({stream}#{position})")
            return
        self._event_ids.add(envelope.event_id)
        head = self._heads.get(stream, 0)
        if position <= head:
            f.violation("log_order_violations", f"{stream}: {position} after {head}")
        elif position > head + 1:
            f.violation("log_gaps", f"{stream}: {head + 1}..{position - 1} missing")
        self._heads[stream] = max(head, position)

        kind = envelope.WhichOneof("payload")
        if stream.startswith("room:"):
            self.rooms.add(stream.removeprefix("room:"))
        if envelope.actor.user_id:
            self.users.add(envelope.actor.user_id)
        target: str = getattr(getattr(envelope, kind), "user_id", "") if kind else ""
        if target:
            self.users.add(target)
        if kind == "message_posted":
            f.count("log_messages")
            client_msg_id = envelope.message_posted.client_msg_id
            if client_msg_id:  # a client id is its sender's: two senders may pick the same
                key = (stream, envelope.actor.user_id, client_msg_id)
                self._sender[envelope.event_id] = envelope.actor.user_id
                first = self._sends.setdefault(key, envelope.event_id)
                if first != envelope.event_id:
                    f.violation("log_duplicates", f"clientMsgId {client_msg_id} in {stream}")
        elif kind == "event_emitted":
            f.count("log_app_events")
            client_event_id = envelope.event_emitted.client_event_id
            if client_event_id:
                sent = (stream, envelope.actor.user_id, client_event_id)
                self._sender[envelope.event_id] = envelope.actor.user_id
                if self._emits.setdefault(sent, envelope.event_id) != envelope.event_id:
                    f.violation("log_duplicates", f"clientEventId {client_event_id} in {stream}")

    def check_acked(self, acked: Iterable[Acked]) -> None:
        """Every acknowledged send must be in the log, as the very event the client was told."""
        f = self._findings
        for send in acked:
            f.count("acknowledged")
            logged = send.event_id in self._event_ids
            stream, sender = f"room:{send.room_id}", self._sender.get(send.event_id, "")
            if send.client_msg_id:
                original = self._sends.get((stream, sender, send.client_msg_id))
                logged = logged and original in (None, send.event_id)
            if send.client_event_id:
                f.count("acknowledged_app_events")
                original = self._emits.get((stream, sender, send.client_event_id))
                logged = logged and original in (None, send.event_id)
            if logged:
                f.count("acknowledged_in_log")
            else:
                f.violation("acked_missing", f"{send.event_id} ({send.client_msg_id})")


class InboxCheck:
    """Checks one user's inbox as it is paged: dense positions from 1, each event once,
    each stream in position order."""

    def __init__(self, user_id: str, findings: Findings) -> None:
        self.user_id = user_id
        self._findings = findings
        self._expected = 1
        self._seen: set[str] = set()
        self._heads: dict[str, int] = {}

    def observe(self, position: int, envelope: Envelope) -> None:
        f, user = self._findings, self.user_id
        f.count("inbox_entries")
        if position != self._expected:
            f.violation("inbox_gaps", f"{user}: position {position}, expected {self._expected}")
        self._expected = position + 1
        if envelope.event_id in self._seen:
            f.violation("inbox_duplicates", f"{user}: {envelope.event_id} at {position}")
            return
        self._seen.add(envelope.event_id)
        head = self._heads.get(envelope.stream, 0)
        if envelope.position <= head:
            f.violation(
                "inbox_order_violations",
                f"{user}: {envelope.stream}#{envelope.position} after #{head}",
            )
        self._heads[envelope.stream] = max(head, envelope.position)


class RoomStreamCheck:
    """Checks one room stream as it is paged: every room position from the stream's start
    to its head, once each, in order, and each the room's own event."""

    def __init__(self, room_id: str, since: int, findings: Findings) -> None:
        self.room_id = room_id
        self._findings = findings
        self._expected = since
        self._seen: set[str] = set()

    def observe(self, envelope: Envelope) -> None:
        f, room = self._findings, self.room_id
        f.count("room_stream_events")
        if envelope.stream != f"room:{room}":
            f.violation("room_stream_gaps", f"{room}: {envelope.event_id} is not this room's")
        if envelope.event_id in self._seen or envelope.position < self._expected:
            f.violation("room_stream_duplicates", f"{room}: #{envelope.position} again")
            return
        self._seen.add(envelope.event_id)
        if envelope.position != self._expected:
            f.violation(
                "room_stream_gaps", f"{room}: #{self._expected}..#{envelope.position - 1} missing"
            )
        self._expected = envelope.position + 1

    def finish(self, head: int) -> None:
        if self._expected <= head:
            self._findings.violation(
                "room_stream_gaps", f"{self.room_id}: #{self._expected}..#{head} missing"
            )


@dataclass(slots=True)
class ProjectionDigest:
    """Checksums of a projection, one per room part and per user part.

    Room parts: ``room`` (the room row), ``members``, ``timeline``, and for a room stream
    ``stream`` (its start, and its events by position). User parts: ``rooms``
    (memberships with roles and read states), ``inbox`` (the set of event ids: positions
    interleave rooms differently from one rebuild to the next, so order across streams is not
    part of the digest; order within a stream is checked by :class:`InboxCheck`).
    """

    rooms: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, dict[str, str]] = field(default_factory=dict)


def compare_digests(
    live: ProjectionDigest, rebuilt: ProjectionDigest, findings: Findings
) -> list[str]:
    """Records every room or user part whose checksum differs; returns those names."""
    different: list[str] = []
    for scope, a, b in (("room", live.rooms, rebuilt.rooms), ("user", live.users, rebuilt.users)):
        for key in sorted(a.keys() | b.keys()):
            parts_a, parts_b = a.get(key, {}), b.get(key, {})
            for part in sorted(parts_a.keys() | parts_b.keys()):
                if parts_a.get(part) != parts_b.get(part):
                    name = f"{scope} {key} {part}"
                    different.append(name)
                    findings.violation("projection_differences", name)
    findings.count("rooms_compared", len(live.rooms.keys() | rebuilt.rooms.keys()))
    findings.count("users_compared", len(live.users.keys() | rebuilt.users.keys()))
    return different
