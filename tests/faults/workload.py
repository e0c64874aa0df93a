"""A bounded chat workload for the fault tests, and the checker that ends each of them.

Every send carries a unique client message id and is retried by the SDK until acknowledged
(or until its deadline); the acknowledged sends are the checker's first oracle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tidings_client import Client, TidingsError

from projections.checker import Acked
from tests.e2e.server import DistributedStack, ServerProcess, run_cli
from tests.infra import ROOT

Server = ServerProcess | DistributedStack
ARTIFACTS = ROOT / "test-artifacts" / "faults"


APP_EVENT_EVERY = 4
"""One send in this many is a durable application event instead of a message."""


@dataclass
class Workload:
    """``users`` clients chat in ``rooms`` rooms of ``members`` members each, sending
    ``messages`` messages in total; bounded by count and by ``deadline`` seconds."""

    server: Server
    users: int = 20
    rooms: int = 10
    members: int = 3
    messages: int = 2000
    deadline: float = 300.0
    send_timeout: float = 120.0
    acked: list[Acked] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    room_members: dict[str, list[str]] = field(default_factory=dict)
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    def user(self, i: int) -> str:
        return f"user{i:03d}"

    def setup(self) -> None:
        """Creates the rooms over REST; every user is in at least one room."""
        for r in range(self.rooms):
            members = [self.user((r * self.members + k) % self.users) for k in range(self.members)]
            owner = members[0]
            headers = {"Authorization": f"Bearer {self.server.token(owner)}"}
            with httpx.Client(base_url=self.server.http_url, headers=headers, timeout=30) as http:
                response = http.post("/v1/rooms", json={"name": f"room{r}", "public": True})
                assert response.status_code == 201, response.text
                room_id = response.json()["roomId"]
                for member in members[1:]:
                    added = http.post(f"/v1/rooms/{room_id}/members", json={"userId": member})
                    assert added.status_code in (200, 201), added.text
            self.room_members[room_id] = members

    def rooms_of(self, user: str) -> list[str]:
        return [room for room, members in self.room_members.items() if user in members]

    async def run(self, **client_options: Any) -> None:
        """Sends everything; returns when every send is acknowledged or has given up."""
        per_user = self.messages // self.users
        options = {"reconnect_spread": 1.0, "backoff_max": 2.0, **client_options}

        async def chat(i: int) -> None:
            user = self.user(i)
            rooms = self.rooms_of(user)
            async with Client(self.server.ws_urls, self.server.token(user), **options) as client:
                for n in range(per_user):
                    room = rooms[n % len(rooms)]
                    client_msg_id = f"{user}-{n}"
                    try:
                        if n % APP_EVENT_EVERY == APP_EVENT_EVERY - 1:
                            # Every few sends, a durable application event: the checker
                            # holds them to the same promises as messages.
                            ack = await client.emit(
                                "work.step",
                                {"user": user, "n": n},
                                room=room,
                                client_event_id=client_msg_id,
                                timeout=self.send_timeout,
                            )
                            event = ack["event"]
                            acked = Acked(event["eventId"], room, client_event_id=client_msg_id)
                        else:
                            event = await client.send(
                                room,
                                f"{user} says {n}",
                                client_msg_id=client_msg_id,
                                timeout=self.send_timeout,
                            )
                            acked = Acked(event["eventId"], room, client_msg_id)
                    except (TimeoutError, TidingsError) as exc:
                        self.failed.append(f"{client_msg_id}: {exc!r}")
                        continue
                    self.acked.append(acked)
                    self._progress.set()

        await asyncio.wait_for(asyncio.gather(*(chat(i) for i in range(self.users))), self.deadline)

    async def reached(self, share: float, timeout: float = 300.0) -> None:
        """Returns once ``share`` of the messages are acknowledged."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < share * self.messages:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acked)} sends acknowledged")
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), 1.0)


async def verify(
    server: Server, acked: list[Acked], name: str, wait: float = 30.0
) -> dict[str, Any]:
    """Runs ``tidings verify`` (the operator's command) and returns its report; the report is
    also kept under test-artifacts/faults/ for the record. Async, so that clients running in
    the test's event loop keep answering heartbeats meanwhile."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    acked_file = ARTIFACTS / f"{name}.acked.jsonl"
    with acked_file.open("w") as out:
        for a in acked:
            out.write(
                json.dumps(
                    {
                        "eventId": a.event_id,
                        "roomId": a.room_id,
                        "clientMsgId": a.client_msg_id,
                        "clientEventId": a.client_event_id,
                    }
                )
                + "\n"
            )
    started = time.monotonic()
    _, stdout = await run_cli(
        server, "verify", "--acked", str(acked_file), "--wait", str(wait), timeout=wait + 300
    )
    report: dict[str, Any] = json.loads(stdout)
    report["verify_seconds"] = round(time.monotonic() - started, 1)
    Path(ARTIFACTS / f"{name}.report.json").write_text(json.dumps(report, indent=2))
    print(f"{name}: {json.dumps(report['counts'])}")
    return report


def assert_nothing_lost(report: dict[str, Any], acknowledged: int) -> None:
    counts = report["counts"]
    assert report["ok"], json.dumps(report, indent=2)
    assert counts["acknowledged"] == counts["acknowledged_in_log"] == acknowledged
    assert counts.get("log_app_events", 0) >= counts.get("acknowledged_app_events", 0)
    assert counts["timeline_messages"] == counts["log_messages"]


def infra(service: str, verb: str) -> None:
    subprocess.run([str(ROOT / "infra" / f"{service}.sh"), verb], check=True, timeout=240)


def assert_alive(stack: DistributedStack) -> None:
    """Nobody restarted anything by hand: the same processes served the whole test."""
    stack.processor.check_alive()
    for gateway in stack.gateways:
        gateway.check_alive()
