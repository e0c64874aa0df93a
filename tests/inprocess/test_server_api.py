"""The server API in process (embedded backend): authentication and scopes, key management
with the operator key, token minting, broadcast and batch semantics, its own OpenAPI
document, one server per data directory. Both modes end to end: tests/e2e/test_server_api.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.server_lock import DataDirLock, read_operator_key
from api.settings import Settings
from tests.inprocess.harness import shared_room, token


def operator(settings: Settings) -> dict[str, str]:
    _, key = read_operator_key(settings.data_dir / "operator.key")
    return {"Authorization": f"Bearer {key}"}


def new_key(client: TestClient, settings: Settings, *scopes: str, **extra: Any) -> dict[str, str]:
    made = client.post(
        "/api/v1/keys",
        json={"name": "test", "scopes": list(scopes), **extra},
        headers=operator(settings),
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "send Authorization: Bearer <API key>"),
        ("Bearer nonsense", "not a user token"),
        ("Bearer tdk_0123456789ab_" + "A" * 43, "unknown API key"),
    ],
)
def test_requests_without_a_working_key_are_unauthorized(
    client: TestClient, header: str | None, message: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/rooms", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]


def test_a_user_token_is_never_a_key(client: TestClient, settings: Settings) -> None:
    headers = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    response = client.get("/api/v1/rooms", headers=headers)
    assert response.status_code == 401
    assert "not a user token" in response.json()["error"]["message"]


def test_keys_are_listed_without_secrets_and_revoked(
    client: TestClient, settings: Settings
) -> None:
    reader = new_key(client, settings, "read")
    assert client.get("/api/v1/rooms", headers=reader).status_code == 200
    listed = client.get("/api/v1/keys", headers=operator(settings)).json()
    key_id = reader["Authorization"].split("_")[1]
    assert [k["keyId"] for k in listed] == [key_id]
    assert "secretHash" not in listed[0] and "key" not in listed[0]
    assert client.get("/api/v1/keys", headers=reader).status_code == 403  # admin only
    revoked = client.delete(f"/api/v1/keys/{key_id}", headers=operator(settings))
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    missing = client.delete("/api/v1/keys/ffffffffffff", headers=operator(settings))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"scopes": ["fly"]}, 422, "INVALID_ARGUMENT"),
        ({"scopes": ["read"], "namespaces": ["nowhere"]}, 404, "NOT_FOUND"),
        ({"scopes": []}, 422, "INVALID_ARGUMENT"),
    ],
)
def test_bad_key_requests_are_refused(
    client: TestClient, settings: Settings, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/api/v1/keys", json={"name": "x", **body}, headers=operator(settings))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_minted_tokens_work_for_users(client: TestClient, settings: Settings) -> None:
    minter = new_key(client, settings, "tokens")
    minted = client.post("/api/v1/tokens", json={"userId": "zoe"}, headers=minter)
    assert minted.status_code == 200, minted.text
    user = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert client.get("/v1/rooms", headers=user).status_code == 200
    elsewhere = client.post(
        "/api/v1/tokens", json={"userId": "zoe", "namespaces": ["game"]}, headers=minter
    )
    assert elsewhere.status_code in (403, 404)


def test_broadcast_reports_each_room_and_applies_a_request_once(
    client: TestClient, settings: Settings
) -> None:
    room = shared_room(client, settings, "alice", "bob")
    publisher = {**new_key(client, settings, "publish"), "Idempotency-Key": "notice-1"}
    body = {"roomIds": [room, "not-a-room"], "text": "maintenance at 22:00"}
    first = client.post("/api/v1/broadcast", json=body, headers=publisher).json()["results"]
    assert "event" in first[0] and not first[0]["duplicate"]
    assert first[1]["error"]["code"] == "room_not_found"
    again = client.post("/api/v1/broadcast", json=body, headers=publisher).json()["results"]
    assert again[0]["duplicate"] and again[0]["event"]["eventId"] == first[0]["event"]["eventId"]
    alice = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    texts = [
        m["text"]
        for m in client.get(f"/v1/rooms/{room}/messages", headers=alice).json()["messages"]
    ]
    assert texts.count("maintenance at 22:00") == 1


def test_an_application_event_from_a_backend_is_logged_once(
    client: TestClient, settings: Settings
) -> None:
    room = shared_room(client, settings, "alice")
    publisher = {**new_key(client, settings, "publish"), "Idempotency-Key": "ship-42"}
    body = {"name": "order.shipped", "payload": {"id": 42}}
    first = client.post(f"/api/v1/rooms/{room}/events", json=body, headers=publisher)
    assert first.status_code == 201, first.text
    assert first.json()["event"]["eventEmitted"]["payload"] == {"id": 42}
    again = client.post(f"/api/v1/rooms/{room}/events", json=body, headers=publisher)
    assert again.status_code == 200 and again.json()["duplicate"]


def test_batch_checks_each_call_on_its_own(client: TestClient, settings: Settings) -> None:
    room = shared_room(client, settings, "alice")
    publisher = new_key(client, settings, "publish")
    requests = [
        {"method": "POST", "path": f"/v1/rooms/{room}/messages", "body": {"text": "one"}},
        {"method": "GET", "path": f"/v1/rooms/{room}/members"},  # needs read
        {"method": "POST", "path": "/v1/batch", "body": {"requests": []}},  # no nesting
        {"method": "GET", "path": "/v1/audit/export"},  # admin only
    ]
    answer = client.post("/api/v1/batch", json={"requests": requests}, headers=publisher)
    assert [r["status"] for r in answer.json()["responses"]] == [201, 403, 422, 403]
    admin = operator(settings)
    export = [{"method": "GET", "path": f"/v1/audit/export?room={room}"}]
    lines = client.post("/api/v1/batch", json={"requests": export}, headers=admin).json()
    assert lines["responses"][0]["status"] == 200
    assert "roomCreated" in lines["responses"][0]["body"]  # JSON lines, as text


def test_audit_questions_about_nothing_are_not_found(
    client: TestClient, settings: Settings
) -> None:
    room = shared_room(client, settings, "alice")
    admin = operator(settings)
    unknown = "6f1c3b1e-7d0a-4f57-9a51-2f4c9b1f7a10"
    assert client.get(f"/api/v1/audit/rooms/{unknown}", headers=admin).status_code == 404
    assert client.get(f"/api/v1/audit/receipts/{room}/nope", headers=admin).status_code == 404
    as_of = client.get(f"/api/v1/audit/rooms/{room}?atPosition=1", headers=admin)
    assert as_of.status_code == 200 and as_of.json()["asOfPosition"] == 1


def test_the_server_api_has_its_own_openapi_document(client: TestClient) -> None:
    own = client.get("/api/openapi.json").json()
    assert "/v1/rooms/{room_id}/messages" in own["paths"]
    assert own["info"]["title"] == "Tidings server API"
    client_api = client.get("/openapi.json").json()
    assert not any(path.startswith("/api") for path in client_api["paths"])


def test_one_server_per_data_directory(client: TestClient, settings: Settings) -> None:
    assert not DataDirLock(settings.data_dir).try_acquire()  # the running server holds it
    assert (settings.data_dir / "operator.key").stat().st_mode & 0o077 == 0


DOCS = Path(__file__).resolve().parents[2] / "docs" / "server-api.md"


def documented_calls(substitutions: dict[str, str]) -> list[tuple[str, str, dict[str, str], Any]]:
    """The curl examples of docs/server-api.md as (method, url, headers, JSON body)."""
    text = DOCS.read_text()
    block = text[text.index("```sh\nA=") + 6 : text.index("```", text.index("```sh\nA=") + 6)]
    for name, value in substitutions.items():
        block = block.replace(name, value)
    tokens = shlex.split(block.replace("\\\n", " "), comments=True)
    calls = []
    for command in _split(tokens):
        method, url, headers, body = "GET", "", {}, None
        args = iter(command[1:])
        for arg in args:
            if arg.startswith("-X"):
                method = arg[2:]
            elif arg == "-H":
                name, _, value = next(args).partition(": ")
                headers[name] = value
            elif arg == "-d":
                body = json.loads(next(args))
            elif arg.startswith("http"):
                url = arg
            elif arg == ">":
                break
        calls.append((method, url, headers, body))
    return calls


def _split(tokens: list[str]) -> list[list[str]]:
    commands: list[list[str]] = []
    for word in tokens:
        if word == "curl":
            commands.append([word])
        elif commands:
            commands[-1].append(word)
    return commands


def test_every_documented_curl_example_works(client: TestClient, settings: Settings) -> None:
    room = shared_room(client, settings, "alice")
    alice = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    posted = client.post(f"/v1/rooms/{room}/messages", json={"text": "hi"}, headers=alice)
    admin = new_key(client, settings, "admin")["Authorization"].removeprefix("Bearer ")
    spare = new_key(client, settings, "read")["Authorization"].split("_")[1]
    calls = documented_calls(
        {
            "$A": f"Authorization: Bearer {admin}",
            "$J": "Content-Type: application/json",
            "$U": "http://testserver/api/v1",
            "$R": room,
            "$M": posted.json()["event"]["eventId"],
            "89b98f6e123d": spare,
        }
    )
    assert len(calls) >= 25
    for method, url, headers, body in calls:
        response = client.request(method, url, headers=headers, json=body)
        assert response.status_code < 400, (method, url, response.text)


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/api/docs", "/api/redoc"])
def test_api_docs_need_no_internet(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert "cdn." not in html and "googleapis" not in html
    scripts = re.findall(r'src="([^"]+\.js)"', html)
    assert scripts and all(s.startswith("/static/docs/") for s in scripts)
    for script in scripts:
        served = client.get(script)
        assert served.status_code == 200 and len(served.content) > 100_000
    openapi = "/api/openapi.json" if page.startswith("/api") else "/openapi.json"
    assert openapi in html and client.get(openapi).status_code == 200
