"""Cassandra adapter of :class:`DeviceLeases` (tables ``gateway_leases``, ``gateway_devices``).

Leases are rows written ``USING TTL``: an expired lease is simply absent. Finding orphans
reads both tables whole, which is fine for the number of devices online at once on a few
gateways; a very large deployment would shard ``gateway_devices`` by a time bucket.
"""

from __future__ import annotations

from api.leases import DeviceLeases, Orphan
from projections.store_cassandra import CassandraProjectionStore

__all__ = ["CassandraDeviceLeases"]


class CassandraDeviceLeases(DeviceLeases):
    def __init__(
        self, store: CassandraProjectionStore, gateway_id: str, lease_seconds: float
    ) -> None:
        self._store = store
        self._gateway_id = gateway_id
        self._ttl = max(int(lease_seconds), 1)

    async def renew(self) -> None:
        await self._store.execute(
            "INSERT INTO gateway_leases (gateway_id, renewed_at) "
            "VALUES (?, toTimestamp(now())) USING TTL ?",
            (self._gateway_id, self._ttl),
        )

    async def attach(self, user_id: str, device_id: str) -> None:
        await self._store.execute(
            "INSERT INTO gateway_devices (gateway_id, user_id, device_id) VALUES (?,?,?)",
            (self._gateway_id, user_id, device_id),
        )

    async def detach(self, user_id: str, device_id: str) -> None:
        await self._store.execute(
            "DELETE FROM gateway_devices WHERE gateway_id=? AND user_id=? AND device_id=?",
            (self._gateway_id, user_id, device_id),
        )

    async def orphans(self) -> list[Orphan]:
        live = {
            r.gateway_id for r in await self._store.execute("SELECT gateway_id FROM gateway_leases")
        } | {self._gateway_id}
        rows = await self._store.execute(
            "SELECT gateway_id, user_id, device_id FROM gateway_devices"
        )
        held = {(r.user_id, r.device_id) for r in rows if r.gateway_id in live}
        return [
            Orphan(r.gateway_id, r.user_id, r.device_id, (r.user_id, r.device_id) in held)
            for r in rows
            if r.gateway_id not in live
        ]

    async def release(self, orphan: Orphan) -> None:
        await self._store.execute(
            "DELETE FROM gateway_devices WHERE gateway_id=? AND user_id=? AND device_id=?",
            (orphan.gateway_id, orphan.user_id, orphan.device_id),
        )
