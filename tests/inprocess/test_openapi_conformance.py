"""The OpenAPI documents against what the server answers.

A scripted tour calls every operation of both documents (``/openapi.json`` for users,
``/api/openapi.json`` for backends), with successes and each class of error; schemathesis
checks every answer against its operation: the status is documented and the body is valid
against that status's schema. A generated client relies on exactly that. (The fuzzing run
with every schemathesis check is in tests/e2e/test_security.py.)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from starlette.testclient import TestClient

from api.app import create_app
from api.rest_models import ERROR_RESPONSES
from api.settings import Settings
from tests.inprocess.harness import bearer, token
from tests.inprocess.test_server_api import operator


class Tour:
    """Calls routes through the test client, checking each answer against the document that
    describes the route and noting which operations were called."""

    def __init__(self, client: TestClient, document: str, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self.spec: dict[str, Any] = client.get(document).json()
        self.schema = schemathesis.openapi.from_dict(self.spec)
        self.visited: set[tuple[str, str]] = set()
        self.patterns = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in self.spec["paths"]
        ]

    def call(
        self, method: str, path: str, expect: int, headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        response = self.client.request(method, self.prefix + path, headers=headers, **kw)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        operation = self._operation(method, path.split("?")[0])
        documented = operation.responses.find_by_status_code(response.status_code)
        assert documented is not None, f"{method} {path} answered {expect}, not documented"
        operation.validate_response(response)
        json = response.headers.get("content-type", "").startswith("application/json")
        json = json and bool(response.content)
        return response.json() if json else None

    def _operation(self, method: str, path: str) -> Any:
        for pattern, template in self.patterns:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                self.visited.add((method.upper(), template))
                return self.schema[template][method.upper()]
        raise AssertionError(f"{method} {path} is not in the document")

    def unvisited(self) -> set[tuple[str, str]]:
        every = {(m.upper(), p) for p, ops in self.spec["paths"].items() for m in ops}
        return every - self.visited


@pytest.fixture
def users(client: TestClient) -> Iterator[Tour]:
    yield Tour(client, "/openapi.json")


def test_every_user_route_answers_as_its_document_says(users: Tour, settings: Settings) -> None:
    alice, bob = bearer(settings, "alice"), bearer(settings, "bob")
    call = users.call
    minted = call("POST", "/dev/token", 200, json={"userId": "alice"})
    assert minted["token"]
    call("POST", "/dev/token", 422, json={"userId": ""})
    call(
        "POST",
        "/dev/token",
        400,
        content=b'{"userId": ',
        headers={"content-type": "application/json"},
    )

    call("GET", "/v1/rooms", 401)
    call("GET", "/v1/rooms", 401, headers={"Authorization": "Bearer nope"})
    room = call("POST", "/v1/rooms", 201, alice, json={"name": "tour"})["roomId"]
    call("POST", "/v1/rooms", 422, alice, json={"name": ""})
    call("POST", "/v1/rooms", 400, alice, json={"name": "x", "colour": "red"})
    call("POST", "/v1/rooms", 400, alice, json={"name": 5})
    channel = call("POST", "/v1/rooms", 201, alice, json={"name": "news", "kind": "channel"})
    call("GET", "/v1/rooms", 200, alice)
    call("GET", "/v1/rooms/public?q=tou", 200, alice)
    call("GET", "/v1/rooms/public?limit=0", 422, alice)
    call("GET", f"/v1/rooms/{room}", 200, alice)
    call("GET", "/v1/rooms/not-a-uuid", 404, alice)
    call("GET", f"/v1/rooms/{room}", 404, bob)  # not a member: the same as no such room

    call("POST", "/v1/direct/bob", 201, alice)
    call("POST", "/v1/direct/bob", 200, alice)
    call("POST", f"/v1/rooms/{room}/members", 201, alice, json={"userId": "bob"})
    call("POST", f"/v1/rooms/{room}/members", 409, alice, json={"userId": "bob"})
    call("POST", f"/v1/rooms/{room}/members", 422, alice, json={"userId": "x", "role": "king"})
    call("GET", f"/v1/rooms/{room}/members", 200, alice)
    call("PUT", f"/v1/rooms/{room}/members/bob", 200, alice, json={"role": "admin"})
    call("PUT", f"/v1/rooms/{room}/members/bob", 403, bob, json={"role": "owner"})

    sent = call(
        "POST", f"/v1/rooms/{room}/messages", 201, alice, json={"text": "hi", "clientMsgId": "c1"}
    )
    again = call(
        "POST", f"/v1/rooms/{room}/messages", 200, alice, json={"text": "hi", "clientMsgId": "c1"}
    )
    assert again["duplicate"] and again["event"]["eventId"] == sent["event"]["eventId"]
    call("POST", f"/v1/rooms/{room}/messages", 422, alice, json={"text": ""})
    call("POST", f"/v1/rooms/{room}/messages", 400, alice, json={"text": 9})
    call("POST", f"/v1/rooms/{room}/messages", 413, alice, json={"text": "x" * 70_000})
    message_id = sent["event"]["messagePosted"]["messageId"]
    call("GET", f"/v1/rooms/{room}/messages", 200, alice)
    call("GET", f"/v1/rooms/{room}/messages?limit=0", 422, alice)
    call("GET", f"/v1/rooms/{room}/messages?limit=abc", 400, alice)
    call("GET", f"/v1/rooms/{room}/messages/{message_id}", 200, alice)
    call("GET", f"/v1/rooms/{room}/messages/{uuid.uuid4()}", 404, alice)
    call("POST", f"/v1/rooms/{room}/events", 200, alice, json={"name": "poll", "payload": {"a": 1}})
    call("POST", f"/v1/rooms/{room}/events", 422, alice, json={"name": "", "payload": 1})

    call("GET", "/v1/inbox?after=0", 200, alice)
    call("GET", "/v1/inbox?after=-1", 422, alice)
    call("GET", f"/v1/rooms/{channel['roomId']}/stream?after=0", 200, alice)
    call("GET", f"/v1/rooms/{room}/stream?after=0", 409, alice)  # not a room stream
    call("GET", f"/v1/rooms/{room}/presence", 200, alice)
    call("GET", "/v1/users/online", 200, alice)
    call("DELETE", f"/v1/rooms/{room}/members/bob", 204, alice)
    call("DELETE", f"/v1/rooms/{room}/bans/bob", 204, alice)
    call("GET", "/v1/devices", 200, alice)
    carol = {"Authorization": f"Bearer {token(settings, 'carol', device='phone')}"}
    call("POST", "/v1/devices/phone/revoke", 204, carol)
    call("POST", "/v1/sessions/revoke", 204, bearer(settings, "dave"))
    assert users.unvisited() == set()


def test_every_server_route_answers_as_its_document_says(
    client: TestClient, settings: Settings
) -> None:
    tour = Tour(client, "/api/openapi.json", prefix="/api")
    admin = operator(settings)
    once = {**admin, "Idempotency-Key": "tour-1"}
    call = tour.call
    call("GET", "/v1/rooms", 401)
    call("GET", "/v1/rooms", 401, bearer(settings, "alice"))  # a user token is not a key
    room = call("POST", "/v1/rooms", 201, once, json={"name": "backend"})["event"]["stream"][5:]
    call("POST", "/v1/rooms", 200, once, json={"name": "backend"})
    call("POST", "/v1/rooms", 400, admin, json={"name": "x", "colour": "red"})
    call("POST", "/v1/rooms", 422, admin, json={"name": ""})
    call("GET", "/v1/rooms?q=back", 200, admin)
    call("GET", f"/v1/rooms/{room}", 200, admin)
    call("GET", f"/v1/rooms/{uuid.uuid4()}", 404, admin)
    call("PATCH", f"/v1/rooms/{room}", 200, admin, json={"name": "renamed"})

    member = {**admin, "Idempotency-Key": "tour-2"}
    call("POST", f"/v1/rooms/{room}/members", 201, member, json={"userId": "alice"})
    call("POST", f"/v1/rooms/{room}/members", 200, member, json={"userId": "alice"})
    call("POST", f"/v1/rooms/{room}/members", 409, admin, json={"userId": "alice"})
    call("GET", f"/v1/rooms/{room}/members", 200, admin)
    call("PUT", f"/v1/rooms/{room}/members/alice", 200, admin, json={"role": "admin"})
    call("PUT", f"/v1/rooms/{room}/members/alice", 422, admin, json={"role": "king"})

    post = {**admin, "Idempotency-Key": "tour-3"}
    sent = call("POST", f"/v1/rooms/{room}/messages", 201, post, json={"text": "shipped"})
    call("POST", f"/v1/rooms/{room}/messages", 200, post, json={"text": "shipped"})
    call("POST", f"/v1/rooms/{room}/messages", 413, admin, json={"text": "x" * 70_000})
    emit = {**admin, "Idempotency-Key": "tour-4"}
    call("POST", f"/v1/rooms/{room}/events", 201, emit, json={"name": "order", "payload": {}})
    call("POST", f"/v1/rooms/{room}/events", 200, emit, json={"name": "order", "payload": {}})
    call("POST", "/v1/broadcast", 200, admin, json={"roomIds": [room, "nope"], "text": "all"})
    call("GET", f"/v1/rooms/{room}/messages?limit=10", 200, admin)
    call("GET", f"/v1/rooms/{room}/messages?limit=abc", 400, admin)
    call("GET", f"/v1/rooms/{room}/presence", 200, admin)
    call("GET", "/v1/presence?user=alice", 200, admin)
    call("GET", "/v1/users/online", 200, admin)
    call("POST", "/v1/users/alice/disconnect", 200, admin, json={})
    call("POST", "/v1/users/alice/revoke", 200, admin, json={"deviceId": "phone"})
    call("POST", "/v1/tokens", 200, admin, json={"userId": "alice"})
    call("POST", "/v1/tokens", 422, admin, json={"userId": "alice", "ttlSeconds": 1})
    batch = [{"method": "GET", "path": f"/v1/rooms/{room}"}]
    call("POST", "/v1/batch", 200, admin, json={"requests": batch})

    made = call("POST", "/v1/keys", 201, admin, json={"name": "k", "scopes": ["read"]})
    call("POST", "/v1/keys", 422, admin, json={"name": "k", "scopes": ["fly"]})
    call("GET", "/v1/keys", 200, admin)
    call("DELETE", f"/v1/keys/{made['keyId']}", 200, admin)
    call("DELETE", "/v1/keys/ffffffffffff", 404, admin)
    reading = call("POST", "/v1/keys", 201, admin, json={"name": "r", "scopes": ["read"]})
    reader = {"Authorization": f"Bearer {reading['key']}"}
    call("GET", "/v1/overview", 403, reader)
    call("GET", "/v1/overview", 200, admin)
    position = int(sent["event"]["position"])
    call("GET", f"/v1/audit/rooms/{room}?position={position}", 200, admin)
    message_id = sent["event"]["messagePosted"]["messageId"]
    call("GET", f"/v1/audit/receipts/{room}/{message_id}", 200, admin)
    call("GET", f"/v1/audit/export?room={room}", 200, admin)
    call("DELETE", f"/v1/rooms/{room}/members/alice", 200, admin)
    call("DELETE", f"/v1/rooms/{room}", 200, admin)
    assert tour.unvisited() == set()


def test_every_error_answer_in_both_documents_is_the_one_error_body(client: TestClient) -> None:
    for document in ("/openapi.json", "/api/openapi.json"):
        spec = client.get(document).json()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                errors = {s for s in operation["responses"] if int(s) >= 400}
                if path != "/dev/token":
                    assert errors == {str(s) for s in ERROR_RESPONSES}, (method, path)
                for status in errors:
                    content = operation["responses"][status]["content"]["application/json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_a_bug_answers_internal_in_the_documented_body(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        service = client.app.app.app.state.runtime.service  # type: ignore[attr-defined]

        async def bug(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug")

        service.rooms = bug
        tour = Tour(client, "/openapi.json")
        answer = tour.call("GET", "/v1/rooms", 500, bearer(settings, "alice"))
        assert answer == {
            "error": {"code": "INTERNAL", "message": "internal error", "temporary": False}
        }
