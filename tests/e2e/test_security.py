"""Security checks against real servers (docs/security.md maps each protection to its test):
floods and revocation in both modes, request-head limits, unsafe starts, TLS, log hygiene,
the REST API against its own schema (schemathesis) and fuzzed frames through a real socket
(hypothesis). In-process checks are in tests/inprocess/test_security.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect as connect_sync

from api.session import CloseCode
from api.settings import Settings
from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, Server, eventually, running
from tests.e2e.server import SECRET, Process, ServerProcess, free_port, token

LIMITS = {
    f"TIDINGS_{name.upper()}": str(Settings.model_fields[name].default)
    for name in (
        "send_rate",
        "send_burst",
        "user_send_rate",
        "user_send_burst",
        "read_rate",
        "read_burst",
        "connect_rate",
        "connect_burst",
        "max_connections_per_user",
    )
}
"""The default limits (the other e2e servers lift them)."""

DEFAULTS = Settings()


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"security-{request.param}")
    yield from running(request.param, workdir, {**FAST, **LIMITS})


def gateway_process(server: Server, index: int = 0) -> psutil.Process:
    if isinstance(server, ServerProcess):
        assert server.process is not None and server.process.popen is not None
        return psutil.Process(server.process.popen.pid)
    popen = server.gateways[index].popen
    assert popen is not None
    return psutil.Process(popen.pid)


async def round_trips(client: WsClient, room_id: str, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.monotonic()
        reply = await client.request("send", {"roomId": room_id, "text": f"probe {i}"})
        assert "send" in reply, reply
        times.append(time.monotonic() - started)
    return times


def flood(url: str, jwt: str, room_id: str, count: int) -> tuple[int, int, int, float]:
    """Writes ``count`` sends without waiting, then reads until the server closes: how many
    were accepted and refused, the close code, and how long it took."""
    accepted = refused = 0
    with connect_sync(url, open_timeout=30, close_timeout=30) as ws:
        ws.send(json.dumps({"id": "c", "connect": {"token": jwt}}))
        assert "connect" in json.loads(ws.recv(30))["reply"]
        started = time.monotonic()
        with contextlib.suppress(websockets.ConnectionClosed):
            for i in range(count):
                ws.send(
                    json.dumps({"id": str(i), "send": {"roomId": room_id, "text": f"spam {i}"}})
                )
        with contextlib.suppress(websockets.ConnectionClosed):
            while time.monotonic() - started < 120:
                reply = json.loads(ws.recv(60)).get("reply", {})
                accepted += "send" in reply
                refused += reply.get("error", {}).get("code") == "RATE_LIMITED"
        code = ws.close_code or 0
    return accepted, refused, code, time.monotonic() - started


def timeline(rest: Rest, room_id: str) -> list[dict[str, Any]]:
    """Every message of the room, page by page."""
    messages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    for _ in range(1000):
        page = rest.get(f"/v1/rooms/{room_id}/messages", **params).json()
        messages.extend(page["messages"])
        if not page["hasMore"] or not page["messages"]:
            return messages
        params["before"] = min(int(m["position"]) for m in page["messages"])
    raise AssertionError("more than 1000 pages")


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] * 1000


# ------------------------------------------------------------------ revocation (both modes)


def next_second() -> None:
    """Tokens carry whole seconds; one issued after a revocation is in a later second."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


async def test_revocation_closes_sockets_on_every_gateway(limited: Server) -> None:
    old = limited.token("rosa")
    phone, _ = await WsClient.connect(limited.ws_urls[0], old, device_id="phone")
    laptop, _ = await WsClient.connect(limited.ws_urls[1], old, device_id="laptop")
    started = time.monotonic()
    revoke = Rest(limited, "rosa").post("/v1/sessions/revoke")
    assert revoke.status_code == 204, revoke.text
    codes = await asyncio.gather(phone.closed(30), laptop.closed(30))
    took = time.monotonic() - started
    assert list(codes) == [CloseCode.REVOKED, CloseCode.REVOKED]
    print(f"\nREVOKE {limited.mode}: every socket of the user closed in {took:.2f} s")
    for url in limited.ws_urls:
        again, reply = await WsClient.connect(url, old, device_id="phone")
        assert reply["error"]["code"] == "UNAUTHORIZED" and "revoked" in reply["error"]["message"]
        await again.closed()

    next_second()
    fresh = limited.token("rosa")
    phone, _ = await WsClient.connect(limited.ws_urls[0], fresh, device_id="phone")
    laptop, _ = await WsClient.connect(limited.ws_urls[1], fresh, device_id="laptop")
    rest = Rest(limited, "rosa", gateway=1)
    assert rest.post("/v1/devices/phone/revoke").status_code == 204
    assert await phone.closed(30) == CloseCode.REVOKED
    event = await laptop.next_event()  # the laptop stays, and hears of it
    assert event["event"]["sessionsRevoked"]["deviceId"] == "phone"
    assert "presence" in await laptop.request("presence", {"status": "PRESENCE_STATUS_AWAY"})
    devices = await eventually(
        lambda: {d["deviceId"] for d in rest.get("/v1/devices").json()} >= {"laptop", "phone"}
    )
    assert devices
    await laptop.close()


# ------------------------------------------------------------------ floods (both modes)


@pytest.mark.timeout(600)
async def test_floods_are_refused_and_others_are_served(limited: Server) -> None:
    owner = Rest(limited, "bob")
    room_id = owner.create_room("flooded")
    assert owner.post(f"/v1/rooms/{room_id}/members", {"userId": "mallory"}).status_code == 201
    bob, _ = await WsClient.connect(limited.ws_url, limited.token("bob"))
    before = await round_trips(bob, room_id, 20)

    # One user, many sockets: capped per gateway.
    hoard = []
    for _ in range(DEFAULTS.max_connections_per_user):
        client, reply = await WsClient.connect(limited.ws_url, limited.token("hoarder"))
        assert "connect" in reply, reply
        hoard.append(client)
    extra, refused = await WsClient.connect(limited.ws_url, limited.token("hoarder"))
    assert refused["error"]["code"] == "RATE_LIMITED"
    assert await extra.closed() == CloseCode.RATE_LIMITED
    for client in hoard:
        await client.close()

    # One socket, 3,000 sends as fast as it can write them, from a thread of its own (so
    # that writing them does not hold up the measuring client's loop).
    flood_size = 3000
    flooding = asyncio.create_task(
        asyncio.to_thread(flood, limited.ws_url, limited.token("mallory"), room_id, flood_size)
    )
    during = await round_trips(bob, room_id, 20)
    accepted, limited_count, code, elapsed = await asyncio.wait_for(flooding, 120)
    assert code == CloseCode.RATE_LIMITED  # it kept sending after the refusals
    assert limited_count >= DEFAULTS.max_rate_limited_in_a_row
    ceiling = DEFAULTS.send_burst + DEFAULTS.send_rate * elapsed + 1
    assert 1 <= accepted <= ceiling, (accepted, ceiling)

    def logged() -> int:  # REST reads catch up with the log (distributed mode)
        return sum(m["authorId"] == "mallory" for m in timeline(owner, room_id))

    await eventually(lambda: logged() >= accepted, timeout=60)
    assert logged() == accepted  # nothing refused was logged

    # One address, connects as fast as it can open them: refused with 429 past the budget.
    connects, refusals = 0, 0
    connect_started = time.monotonic()
    for _ in range(120):
        try:
            ws = await websockets.connect(limited.ws_url)
        except websockets.InvalidStatus as exc:
            assert exc.response.status_code == 429
            assert int(exc.response.headers["Retry-After"]) >= 1
            refusals += 1
            continue
        connects += 1
        await ws.close()
    connect_elapsed = time.monotonic() - connect_started
    assert refusals > 0
    assert connects <= DEFAULTS.connect_burst + DEFAULTS.connect_rate * connect_elapsed + 1
    rss = gateway_process(limited).memory_info().rss / 2**20
    print(
        f"\nFLOOD {limited.mode}: {flood_size} sends written; in {elapsed:.1f} s, "
        f"accepted {accepted} ({accepted / elapsed:.1f}/s), "
        f"RATE_LIMITED {limited_count}, closed {code}; "
        f"other user's send p95 {p95(before):.1f} ms before, {p95(during):.1f} ms during; "
        f"connects: {connects} accepted, {refusals} refused (429) in {connect_elapsed:.1f} s; "
        f"gateway RSS {rss:.0f} MiB"
    )
    await bob.close()


# ------------------------------------------------------------------ one embedded server


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("security") / "data", FAST).start()
    yield server
    server.stop()


def test_request_heads_over_the_limit_get_431(embedded: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", embedded.port), timeout=30) as sock:
        # Four times the limit: the server answers before the head ends (a client that
        # goes on to send a megabyte is cut off the same way).
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 65536)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert httpx.get(f"{embedded.http_url}/healthz").status_code == 200


def test_logs_hold_no_tokens_and_no_query_strings(embedded: ServerProcess) -> None:
    marker = "QUERYSECRET" + "q" * 20
    jwt = embedded.token("logan")

    async def visit() -> None:
        ws = await websockets.connect(f"{embedded.ws_url}?token={marker}")
        await ws.send(json.dumps({"id": "1", "connect": {"token": jwt}}))
        assert "connect" in json.loads(await ws.recv())["reply"]
        await ws.close()
        bad = await websockets.connect(f"{embedded.ws_url}?access_token={marker}")
        await bad.send(json.dumps({"id": "1", "connect": {"token": marker}}))
        await bad.recv()
        await bad.close()

    asyncio.run(visit())
    headers = {"Authorization": f"Bearer {jwt}"}
    assert httpx.get(f"{embedded.http_url}/v1/rooms?token={marker}", headers=headers).is_success
    log_text = embedded.log_path.read_text()
    assert "/v1/ws" in log_text  # the handshakes were logged, without their query strings
    assert marker not in log_text
    assert jwt not in log_text and SECRET not in log_text


def test_the_data_directory_is_private(embedded: ServerProcess) -> None:
    assert oct(embedded.data_dir.stat().st_mode & 0o777) == oct(0o700)
    for file in embedded.data_dir.iterdir():
        assert file.stat().st_mode & 0o077 == 0, file


@pytest.mark.timeout(900)
def test_the_rest_api_holds_to_its_schema(embedded: ServerProcess) -> None:
    """schemathesis, every check, two users, fixed seeds. The revocation routes are left
    out: a fuzzer revoking its own token would test nothing after that (they have tests
    of their own above and in process)."""
    schemathesis = Path(sys.executable).parent / "st"
    for user, seed in (("fuzz-ann", "1"), ("fuzz-ben", "2")):
        run = subprocess.run(
            [
                str(schemathesis),
                "run",
                f"{embedded.http_url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "15",
                "--seed",
                seed,
                "--exclude-path-regex",
                "revoke",
                "-H",
                f"Authorization: Bearer {embedded.token(user)}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-6000:]


COMMANDS = ["send", "join", "leave", "history", "ack", "typing", "presence", "edit", "delete"]
COMMANDS += ["follow", "unfollow", "refresh", "connect", "pong", "nonsense"]
FIELDS = ["roomId", "text", "messageId", "kind", "status", "upTo", "before", "after", "limit"]
FIELDS += ["position", "epoch", "token", "typing", "clientMsgId", "deviceId", "inbox"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
frames = st.one_of(
    st.text(max_size=200),
    st.dictionaries(
        st.sampled_from(["id", *COMMANDS]) | st.text(max_size=6), json_values, max_size=3
    ).map(json.dumps),
    st.builds(
        lambda cmd, body, frame_id: json.dumps({"id": frame_id, cmd: body}),
        st.sampled_from(COMMANDS),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
        st.text(max_size=8) | st.integers(),
    ),
)


@pytest.mark.timeout(600)
def test_fuzzed_frames_never_break_a_connection(embedded: ServerProcess) -> None:
    """Whatever arrives, the server answers it with a reply or an error (never INTERNAL)
    and the connection goes on answering."""
    with connect_sync(embedded.ws_url, open_timeout=30) as ws:
        ws.send(json.dumps({"id": "c", "connect": {"token": embedded.token("fuzzer")}}))
        assert "connect" in json.loads(ws.recv(30))["reply"]
        probes = iter(range(10**6))

        @settings(
            max_examples=300,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(frames)
        def check(frame: str) -> None:
            ws.send(frame)
            probe = f"probe-{next(probes)}"
            ws.send(json.dumps({"id": probe, "history": {"roomId": "no-such-room"}}))
            for _ in range(50):
                answer = json.loads(ws.recv(30))
                error = answer.get("reply", {}).get("error", {})
                assert error.get("code") != "INTERNAL", (frame, answer)
                if answer.get("reply", {}).get("id") == probe:
                    return
            raise AssertionError(f"no answer to the probe after {frame!r}")

        check()


# ------------------------------------------------------------------ starts


def cli(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unsafe_starts_are_refused(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data"), "--port", str(free_port())]
    public = cli(["serve", "--host", "0.0.0.0", *data], {})
    assert public.returncode == 2 and "loopback only" in public.stderr, public.stderr
    weak = cli(["serve", *data], {"TIDINGS_JWT_SECRET": "weakSECRET1"})
    assert weak.returncode == 2 and "at least 32 bytes" in weak.stderr, weak.stderr
    assert "weakSECRET1" not in weak.stderr  # a refused secret is never echoed


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_serves_https_and_wss(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "TIDINGS_JWT_SECRET": SECRET,
        "TIDINGS_TLS_CERTFILE": str(cert),
        "TIDINGS_TLS_KEYFILE": str(key),
    }
    process = Process(
        ["serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)],
        env,
        tmp_path / "tls.log",
    )
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            process.check_alive()
            try:
                if httpx.get(f"https://127.0.0.1:{port}/readyz", verify=str(cert)).is_success:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(cert))

        async def over_wss() -> dict[str, Any]:
            client, reply = await WsClient.connect(
                f"wss://127.0.0.1:{port}/v1/ws", token("tess"), ssl=context
            )
            await client.close()
            return reply

        assert "connect" in asyncio.run(over_wss())
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on a TLS port
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    finally:
        process.stop()
