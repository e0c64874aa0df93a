"""Namespaces: isolated spaces of rooms on one deployment, each with its own rules.

Every room belongs to one namespace (``default`` unless created elsewhere); a token grants
the namespaces its holder may use (claim ``ns``) and nothing crosses them. The operator
declares namespaces in a file (docs/namespaces.md); this module is the typed, validated
form of that file, shared by gateways (what a connection may emit, and how it travels)
and the command processor (who may create rooms, how large they grow).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import DomainEvent

from domain.errors import InvalidArgument, NamespaceNotFound
from domain.values import EventMeta

__all__ = [
    "DEFAULT_NAMESPACE",
    "EventRule",
    "NamespaceConfigured",
    "NamespaceRules",
    "Namespaces",
    "check_event_name",
    "check_namespace_name",
    "namespace_aggregate_id",
    "namespace_configured",
    "namespace_stream",
]

DEFAULT_NAMESPACE = "default"
MAX_EVENT_PAYLOAD_BYTES = 16_384
_NAMESPACE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def check_namespace_name(name: str) -> str:
    if not _NAMESPACE_NAME.fullmatch(name):
        raise InvalidArgument(
            f"namespace names are 1 to 32 of a-z, 0-9, '_' and '-', starting alphanumeric: {name!r}"
        )
    return name


def check_event_name(name: str) -> str:
    if not _EVENT_NAME.fullmatch(name):
        raise InvalidArgument(
            "event names are 1 to 64 of letters, digits, '_', '.', ':' and '-', "
            f"starting with a letter or digit: {name[:70]!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class EventRule:
    """How one application event travels in its namespace."""

    durable: bool = True
    """Through the log (positions, resume, audit); else relayed to connected users only."""
    schema: Mapping[str, Any] | None = None
    """A JSON Schema its payload must match (checked by the gateway)."""


@dataclass(frozen=True, slots=True)
class NamespaceRules:
    name: str
    create_rooms: bool = True
    """Whether users granted the namespace may create rooms in it."""
    max_room_members: int = 0
    """The largest room (0: no limit)."""
    history: bool = True
    presence: bool = True
    typing: bool = True
    receipts: bool = True
    events: Mapping[str, EventRule] = field(default_factory=dict)
    """The application events it accepts; empty: any name, volatile when the client asks."""
    max_payload_bytes: int = MAX_EVENT_PAYLOAD_BYTES
    plugins: tuple[str, ...] = ()
    """The plugins (entry point names of ``tidings.plugins``) that run for its rooms."""

    def event_rule(self, name: str, volatile_asked: bool) -> EventRule:
        """The rule for an event named ``name``; refuses names the namespace does not list."""
        check_event_name(name)
        if not self.events:
            return EventRule(durable=not volatile_asked)
        rule = self.events.get(name)
        if rule is None:
            raise InvalidArgument(f"namespace {self.name!r} accepts no event named {name!r}")
        return rule

    def check_room_size(self, members: int) -> bool:
        """Whether a room of ``members`` members is allowed."""
        return not self.max_room_members or members <= self.max_room_members

    def settings_json(self) -> str:
        """The settings as canonical JSON: what :class:`NamespaceConfigured` records."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))


class Namespaces:
    """Every namespace of the deployment, by name; ``default`` always exists."""

    def __init__(self, rules: Mapping[str, NamespaceRules] | None = None) -> None:
        self._rules = dict(rules or {})
        self._rules.setdefault(DEFAULT_NAMESPACE, NamespaceRules(DEFAULT_NAMESPACE))

    def __getitem__(self, name: str) -> NamespaceRules:
        try:
            return self._rules[name or DEFAULT_NAMESPACE]
        except KeyError:
            raise NamespaceNotFound(name) from None

    def __iter__(self) -> Iterator[NamespaceRules]:
        return iter(self._rules.values())

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._rules)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Namespaces:
        """Reads the ``namespaces`` table of the namespaces file (docs/namespaces.md)."""
        rules = {}
        for name, raw in data.items():
            if not isinstance(raw, Mapping):
                raise InvalidArgument(f"namespace {name!r}: expected a table of settings")
            rules[check_namespace_name(name)] = _rules_of(name, dict(raw))
        return cls(rules)


_FLAGS = ("create_rooms", "history", "presence", "typing", "receipts")


def _rules_of(name: str, raw: dict[str, Any]) -> NamespaceRules:
    def pop(key: str, kind: type, default: Any) -> Any:
        value = raw.pop(key, default)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidArgument(f"namespace {name!r}: {key} must be a {kind.__name__}")
        return value

    flags = {flag: pop(flag, bool, True) for flag in _FLAGS}
    max_members = pop("max_room_members", int, 0)
    max_bytes = pop("max_payload_bytes", int, MAX_EVENT_PAYLOAD_BYTES)
    plugins = pop("plugins", list, [])
    events = {
        check_event_name(event): _event_rule(name, event, spec)
        for event, spec in pop("events", dict, {}).items()
    }
    if raw:
        raise InvalidArgument(f"namespace {name!r}: unknown settings {sorted(raw)}")
    if max_members < 0 or not 1 <= max_bytes <= 1_048_576:
        raise InvalidArgument(
            f"namespace {name!r}: max_room_members >= 0, max_payload_bytes 1..1048576"
        )
    if not all(isinstance(p, str) and p for p in plugins):
        raise InvalidArgument(f"namespace {name!r}: plugins is a list of plugin names")
    return NamespaceRules(
        name,
        max_room_members=max_members,
        events=events,
        max_payload_bytes=max_bytes,
        plugins=tuple(plugins),
        **flags,
    )


def _event_rule(namespace: str, event: str, spec: Any) -> EventRule:
    if not isinstance(spec, Mapping) or set(spec) - {"durable", "schema"}:
        raise InvalidArgument(
            f"namespace {namespace!r}, event {event!r}: settings are durable and schema"
        )
    durable = spec.get("durable", True)
    schema = spec.get("schema")
    if not isinstance(durable, bool) or not (schema is None or isinstance(schema, Mapping)):
        raise InvalidArgument(
            f"namespace {namespace!r}, event {event!r}: durable is a bool, schema a JSON Schema"
        )
    return EventRule(durable=durable, schema=schema)


def namespace_stream(name: str) -> str:
    return f"namespace:{name}"


def namespace_aggregate_id(name: str) -> uuid.UUID:
    """The log's originator id of a namespace's stream."""
    return uuid.uuid5(_STREAMS, namespace_stream(name))


_STREAMS = uuid.UUID("0d3c7a52-8a1e-4d8e-9b1f-6a2e3c4d5e6f")


class NamespaceConfigured(DomainEvent):
    """A namespace's settings took effect (stream ``namespace:<name>``): recorded when a
    process starts with settings that differ from the last recorded ones."""

    meta: EventMeta
    name: str
    settings: str
    """Canonical JSON (:meth:`NamespaceRules.settings_json`)."""


def namespace_configured(
    meta: EventMeta, name: str, position: int, settings: str
) -> NamespaceConfigured:
    fields: dict[str, Any] = {
        "originator_id": namespace_aggregate_id(name),
        "originator_version": position,
        "timestamp": DomainEvent.create_timestamp(),
        "meta": meta,
        "name": name,
        "settings": settings,
    }
    return NamespaceConfigured(**fields)
