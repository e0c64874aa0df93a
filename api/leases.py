"""Device leases: who takes the devices of a gateway that died without saying goodbye.

A gateway killed with SIGKILL cannot log its devices going offline. Every gateway renews a
lease while it lives and records the devices it holds; each one also looks, now and then,
for devices held only by gateways whose lease expired, and logs them offline. A device that
already reconnected to a live gateway is only forgotten, never taken offline.

Adapters: ``NoLeases`` (embedded: one process, which adopts stale devices on start) and
``leases_cassandra.py``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from domain.values import PresenceStatus

__all__ = ["DeviceLeases", "LeasedPresence", "NoLeases", "Orphan", "reap_forever"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Orphan:
    gateway_id: str
    user_id: str
    device_id: str
    held_elsewhere: bool
    """The device is also held by a live gateway: forget it, do not take it offline."""


class DeviceLeases(ABC):
    """Contract: :meth:`renew` keeps this gateway alive for the lease period; :meth:`attach`
    and :meth:`detach` record the devices it holds; :meth:`orphans` lists the devices of
    every other gateway whose lease expired; :meth:`release` forgets one of them."""

    @abstractmethod
    async def renew(self) -> None: ...

    @abstractmethod
    async def attach(self, user_id: str, device_id: str) -> None: ...

    @abstractmethod
    async def detach(self, user_id: str, device_id: str) -> None: ...

    @abstractmethod
    async def orphans(self) -> list[Orphan]: ...

    @abstractmethod
    async def release(self, orphan: Orphan) -> None: ...


class NoLeases(DeviceLeases):
    """One gateway per log: nothing to lease, nobody else's devices to take."""

    async def renew(self) -> None:
        return None

    async def attach(self, user_id: str, device_id: str) -> None:
        return None

    async def detach(self, user_id: str, device_id: str) -> None:
        return None

    async def orphans(self) -> list[Orphan]:
        return []

    async def release(self, orphan: Orphan) -> None:
        return None


Emit = Callable[[str, str, PresenceStatus], Awaitable[None]]


class LeasedPresence:
    """The presence tracker's emitter: logs a device's change, then records in the leases
    whether this gateway holds the device (so that if it dies, another one takes the
    device offline)."""

    def __init__(self, log_presence: Emit, leases: DeviceLeases) -> None:
        self._log_presence = log_presence
        self._leases = leases

    async def __call__(self, user_id: str, device_id: str, status: PresenceStatus) -> None:
        await self._log_presence(user_id, device_id, status)
        if status == PresenceStatus.OFFLINE:
            await self._leases.detach(user_id, device_id)
        else:
            await self._leases.attach(user_id, device_id)


async def reap_once(leases: DeviceLeases, emit_offline: Emit) -> int:
    """Takes the orphaned devices offline; returns how many."""
    taken = 0
    for orphan in await leases.orphans():
        if not orphan.held_elsewhere:
            await emit_offline(orphan.user_id, orphan.device_id, PresenceStatus.OFFLINE)
            taken += 1
        await leases.release(orphan)
    if taken:
        log.info("presence_orphans_taken_offline", devices=taken)
    return taken


async def reap_forever(leases: DeviceLeases, emit_offline: Emit, lease_seconds: float) -> None:
    """Renews this gateway's lease every third of the period and reaps once per period,
    until cancelled."""
    rounds = 0
    while True:
        try:
            await leases.renew()
            if rounds % 3 == 2:
                await reap_once(leases, emit_offline)
        except Exception as exc:  # a store or log outage: the next round retries
            log.warning("presence_leases_retrying", error=repr(exc))
        rounds += 1
        await asyncio.sleep(lease_seconds / 3)
