"""``ServerClient``: the server API (``/api/v1``) for an application's backend.

async with ServerClient("http://127.0.0.1:8000", api_key="tdk_...") as tidings:
    await tidings.publish(room_id, "order 42 shipped", as_="shop-bot", request_id=order_id)
    token = await tidings.mint_token("alice")

Every write takes a ``request_id`` (the Idempotency-Key): retrying with the same one never
applies it twice, and answers with the event logged the first time.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

import httpx

from tidings_client.protocol import TidingsError

__all__ = ["ServerClient"]


class ServerClient:
    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/") + "/api",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    async def __aenter__(self) -> ServerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, body: Any = None, *, request_id: str = "", **params: Any
    ) -> Any:
        """One server API call; refusals raise :class:`TidingsError` with the error code."""
        headers = {"Idempotency-Key": request_id} if request_id else {}
        response = await self._http.request(
            method,
            path,
            json=body,
            headers=headers,
            params={k: v for k, v in params.items() if v is not None} or None,
        )
        data = response.json() if response.content else None
        if response.status_code >= 400:
            error = (data or {}).get("error", {})
            raise TidingsError(
                error.get("code", str(response.status_code)),
                error.get("message", response.text),
                bool(error.get("temporary")),
            )
        return data

    # publishing
    async def publish(
        self, room_id: str, text: str, *, as_: str = "system", request_id: str = ""
    ) -> dict[str, Any]:
        body = {"text": text, "as": as_}
        return await self.call(  # type: ignore[no-any-return]
            "POST", f"/v1/rooms/{room_id}/messages", body, request_id=request_id or _new()
        )

    async def emit(
        self,
        room_id: str,
        name: str,
        payload: Any = None,
        *,
        volatile: bool = False,
        as_: str = "system",
        request_id: str = "",
    ) -> dict[str, Any]:
        body = {"name": name, "payload": payload, "volatile": volatile, "as": as_}
        return await self.call(  # type: ignore[no-any-return]
            "POST", f"/v1/rooms/{room_id}/events", body, request_id=request_id or _new()
        )

    async def broadcast(
        self, room_ids: list[str], text: str, *, as_: str = "system", request_id: str = ""
    ) -> list[dict[str, Any]]:
        body = {"roomIds": room_ids, "text": text, "as": as_}
        answer = await self.call("POST", "/v1/broadcast", body, request_id=request_id or _new())
        return answer["results"]  # type: ignore[no-any-return]

    # rooms and members
    async def create_room(
        self,
        name: str,
        *,
        owner: str = "",
        public: bool = True,
        kind: str = "group",
        namespace: str = "default",
        request_id: str = "",
    ) -> str:
        """Creates a room and returns its id (the same one for a repeated request id)."""
        body = {"name": name, "owner": owner, "public": public, "kind": kind}
        body["namespace"] = namespace
        answer = await self.call("POST", "/v1/rooms", body, request_id=request_id or _new())
        return str(answer["event"]["roomCreated"]["roomId"])

    async def update_room(
        self, room_id: str, *, name: str | None = None, public: bool | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in (("name", name), ("public", public)) if v is not None}
        return await self.call("PATCH", f"/v1/rooms/{room_id}", body)  # type: ignore[no-any-return]

    async def delete_room(self, room_id: str) -> dict[str, Any]:
        return await self.call("DELETE", f"/v1/rooms/{room_id}")  # type: ignore[no-any-return]

    async def add_member(self, room_id: str, user_id: str, role: str = "member") -> dict[str, Any]:
        body = {"userId": user_id, "role": role}
        return await self.call("POST", f"/v1/rooms/{room_id}/members", body)  # type: ignore[no-any-return]

    async def change_role(self, room_id: str, user_id: str, role: str) -> dict[str, Any]:
        body = {"role": role}
        path = f"/v1/rooms/{room_id}/members/{user_id}"
        return await self.call("PUT", path, body)  # type: ignore[no-any-return]

    async def remove_member(self, room_id: str, user_id: str) -> dict[str, Any]:
        path = f"/v1/rooms/{room_id}/members/{user_id}"
        return await self.call("DELETE", path)  # type: ignore[no-any-return]

    # reads
    async def rooms(self, q: str = "", after: str = "", limit: int = 50) -> dict[str, Any]:
        return await self.call("GET", "/v1/rooms", q=q, after=after, limit=limit)  # type: ignore[no-any-return]

    async def members(self, room_id: str) -> list[dict[str, Any]]:
        return await self.call("GET", f"/v1/rooms/{room_id}/members")  # type: ignore[no-any-return]

    async def history(self, room_id: str, **page: Any) -> dict[str, Any]:
        return await self.call("GET", f"/v1/rooms/{room_id}/messages", **page)  # type: ignore[no-any-return]

    async def online(self) -> list[dict[str, Any]]:
        return await self.call("GET", "/v1/users/online")  # type: ignore[no-any-return]

    async def presence(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return await self.call("GET", "/v1/presence", user=user_ids)  # type: ignore[no-any-return]

    # sessions and tokens
    async def disconnect(self, user_id: str, device_id: str = "") -> None:
        await self.call("POST", f"/v1/users/{user_id}/disconnect", {"deviceId": device_id})

    async def revoke(self, user_id: str, device_id: str = "") -> dict[str, Any]:
        body = {"deviceId": device_id}
        return await self.call("POST", f"/v1/users/{user_id}/revoke", body)  # type: ignore[no-any-return]

    async def mint_token(
        self, user_id: str, *, ttl_seconds: int = 3600, namespaces: list[str] | None = None
    ) -> str:
        body = {"userId": user_id, "ttlSeconds": ttl_seconds, "namespaces": namespaces or []}
        return str((await self.call("POST", "/v1/tokens", body))["token"])

    async def batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """[{method, path, body?, idempotencyKey?}] -> [{status, body}], in order."""
        answer = await self.call("POST", "/v1/batch", {"requests": requests})
        return answer["responses"]  # type: ignore[no-any-return]


def _new() -> str:
    return str(uuid.uuid4())
