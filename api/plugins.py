"""Plugins: filters, handlers and observers added without forking the server (ADR 17).

A plugin is a Python package with an entry point in the group ``tidings.plugins``; the entry
point names a factory that takes the plugin's settings (the ``[plugins.<name>]`` table of
the namespaces file) and returns a :class:`Plugin`. A namespace lists the plugins that run
for its rooms. Three kinds of hook:

- **filters** run in the gateway before a message or application event is accepted, once:
  they return it (changed or not) or raise :class:`Reject`. What they return is what is
  logged, so a replay never runs them again.
- **handlers** answer an application event by name (RPC-like) after it was accepted, and
  may emit further events through the :class:`Emitter` they are given.
- **observers** see every logged event of the plugin's namespaces, at least once, in log
  order, from their own tracked position (``api/observers.py``), apart from delivery.

Every hook runs under a timeout; an error or a timeout is logged and counted, never fatal.
A failing filter refuses the command (UNAVAILABLE, retry-safe): a filter that cannot run
lets nothing through unchecked.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal, Protocol

import structlog

from api import metrics
from domain.errors import Rejected
from domain.namespaces import NamespaceRules

__all__ = [
    "Call",
    "Emitter",
    "Filter",
    "Handler",
    "Inbound",
    "Observer",
    "Plugin",
    "PluginFailed",
    "Plugins",
    "Reject",
    "load_plugins",
]

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "tidings.plugins"
HOOK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message or an application event a client sent, before it is accepted. A filter
    returns it, or a copy with another ``text`` or ``payload`` (``dataclasses.replace``)."""

    kind: Literal["message", "event"]
    namespace: str
    room_id: str
    """The room ("" for a volatile event to one user)."""
    user_id: str
    """The sender."""
    text: str = ""
    """A message's text."""
    name: str = ""
    """An event's name."""
    payload: Any = None
    """An event's payload, decoded JSON."""


class Reject(Exception):
    """Raised by a filter: the client is refused with FORBIDDEN and this message."""


class PluginFailed(Exception):
    """A plugin's hook raised or timed out (the client sees UNAVAILABLE, retry-safe)."""


@dataclass(frozen=True, slots=True)
class Call:
    """An application event a handler answers."""

    namespace: str
    room_id: str
    user_id: str
    name: str
    payload: Any
    position: int = 0
    """The event's room position (0 for a volatile event)."""


class Emitter(Protocol):
    """What a handler may do besides answering: emit further events, as the caller, from
    the device ``plugin:<name>``, in the caller's namespace."""

    async def emit(
        self, name: str, payload: Any, *, room_id: str, volatile: bool = False
    ) -> None: ...


Filter = Callable[[Inbound], Awaitable[Inbound]]
Handler = Callable[[Call, Emitter], Awaitable[Any]]
"""Returns the answer (any JSON value; None: no answer)."""
Observer = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Gets each logged event of its namespaces as the protobuf JSON mapping of its envelope;
raising makes it see the same event again (after a pause): at least once, in order."""


@dataclass(frozen=True)
class Plugin:
    """What a plugin adds; its factory builds it from the plugin's settings."""

    filters: Sequence[Filter] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    """Event name -> handler."""
    observers: Mapping[str, Observer] = field(default_factory=dict)
    """Observer name -> observer; each keeps its own position under ``<plugin>.<name>``."""
    timeout_seconds: float = HOOK_TIMEOUT_SECONDS
    close: Callable[[], Awaitable[None]] | None = None
    """Releases what the plugin holds (connections, files) when the gateway stops."""


PluginFactory = Callable[[Mapping[str, Any]], Plugin]


class Plugins:
    """The loaded plugins, by name, and the hooks each namespace runs."""

    def __init__(
        self,
        plugins: Mapping[str, Plugin] | None = None,
        namespaces_of: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.by_name = dict(plugins or {})
        self._namespaces_of = dict(namespaces_of or {})
        """Plugin name -> the namespaces that list it."""

    def _of(self, rules: NamespaceRules) -> list[tuple[str, Plugin]]:
        return [(name, self.by_name[name]) for name in rules.plugins if name in self.by_name]

    async def admit(self, inbound: Inbound, rules: NamespaceRules) -> Inbound:
        """Runs the namespace's filters in order; each sees what the one before returned."""
        for name, plugin in self._of(rules):
            for hook in plugin.filters:
                try:
                    inbound = await self._run(name, "filter", hook(inbound), plugin)
                except Reject as exc:
                    metrics.count_plugin(name, "filter", "rejected")
                    raise Rejected(str(exc) or f"refused by {name}") from None
                if not isinstance(inbound, Inbound):
                    metrics.count_plugin(name, "filter", "failed")
                    log.error("plugin_filter_returned_nothing", plugin=name)
                    raise PluginFailed(f"plugin {name} is not working; retry later")
        return inbound

    def handler(self, rules: NamespaceRules, event: str) -> tuple[str, Plugin, Handler] | None:
        for name, plugin in self._of(rules):
            hook = plugin.handlers.get(event)
            if hook is not None:
                return name, plugin, hook
        return None

    async def answer(
        self, rules: NamespaceRules, call: Call, emitter: Callable[[str], Emitter]
    ) -> tuple[Any, str]:
        """The first handler's answer for the event and "", or None and why there is none
        (no handler: None and "")."""
        found = self.handler(rules, call.name)
        if found is None:
            return None, ""
        name, plugin, hook = found
        try:
            return await self._run(name, "handler", hook(call, emitter(name)), plugin), ""
        except PluginFailed as exc:
            return None, str(exc)

    async def _run(self, name: str, hook: str, work: Awaitable[Any], plugin: Plugin) -> Any:
        try:
            async with asyncio.timeout(plugin.timeout_seconds):
                result = await work
        except Reject:
            raise
        except TimeoutError:
            metrics.count_plugin(name, hook, "timed_out")
            log.warning("plugin_timed_out", plugin=name, hook=hook)
            raise PluginFailed(f"plugin {name} timed out; retry later") from None
        except Exception:
            metrics.count_plugin(name, hook, "failed")
            log.exception("plugin_failed", plugin=name, hook=hook)
            raise PluginFailed(f"plugin {name} failed; retry later") from None
        metrics.count_plugin(name, hook, "ok")
        return result

    async def close(self) -> None:
        for name, plugin in self.by_name.items():
            if plugin.close is not None:
                try:
                    await plugin.close()
                except Exception:
                    log.exception("plugin_close_failed", plugin=name)

    def observers(self) -> list[tuple[str, Observer, frozenset[str], Plugin]]:
        """Every observer as (position name, observer, namespaces it sees, plugin)."""
        return [
            (f"{name}.{observer}", hook, self._namespaces_of.get(name, frozenset()), plugin)
            for name, plugin in self.by_name.items()
            for observer, hook in plugin.observers.items()
        ]


def load_plugins(
    namespaces: Sequence[NamespaceRules], settings: Mapping[str, Mapping[str, Any]]
) -> Plugins:
    """Loads every plugin a namespace names, from its entry point; an unknown name or a
    factory that fails stops the start with the reason."""
    wanted: dict[str, list[str]] = {}
    for rules in namespaces:
        for name in rules.plugins:
            wanted.setdefault(name, []).append(rules.name)
    available = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    loaded: dict[str, Plugin] = {}
    for name, used_by in wanted.items():
        entry = available.get(name)
        if entry is None:
            raise ValueError(
                f"plugin {name!r} (namespaces {used_by}) is not installed: no entry point "
                f"{name!r} in group {ENTRY_POINT_GROUP!r}; installed: {sorted(available)}"
            )
        factory: PluginFactory = entry.load()
        try:
            plugin = factory(dict(settings.get(name, {})))
        except Exception as exc:
            raise ValueError(f"plugin {name!r} did not start: {exc}") from exc
        if not isinstance(plugin, Plugin):
            raise ValueError(f"plugin {name!r}: its entry point must return a Plugin")
        loaded[name] = plugin
    return Plugins(loaded, {name: frozenset(used_by) for name, used_by in wanted.items()})


def replace(inbound: Inbound, **changes: Any) -> Inbound:
    """``dataclasses.replace`` for filters that change what was sent."""
    return dataclasses.replace(inbound, **changes)
