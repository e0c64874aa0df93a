"""The Grafana dashboard against a real Prometheus scraping a real Tidings: after a workload
that sends, fails a command, resumes, pages over REST and keeps a connection open, every
panel's queries return data (docs/grafana/tidings.json; Prometheus from infra/prometheus.sh).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, eventually
from tests.e2e.server import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "tidings.json"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    binary = subprocess.run(
        [str(ROOT / "infra" / "prometheus.sh"), "path"],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    ).stdout.strip()
    server = ServerProcess(tmp_path / "data", FAST).start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: tidings\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)
        server.stop()


def query(url: str, expr: str) -> list[object]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


async def test_every_dashboard_panel_has_data(prometheus: tuple[ServerProcess, str]) -> None:
    server, url = prometheus
    await eventually(lambda: _up(url), 60)
    room = Rest(server, "ada").create_room()
    Rest(server, "ada").post(f"/v1/rooms/{room}/members", {"userId": "bo"})
    bo, _ = await WsClient.connect(server.ws_url, server.token("bo"))
    ada, _ = await WsClient.connect(server.ws_url, server.token("ada"))
    started = time.monotonic()
    while time.monotonic() - started < 6:  # rate() needs samples over a few scrapes
        await ada.request("send", {"roomId": room, "text": "panel"})
        await ada.request("send", {"roomId": room, "text": ""})  # an error, for that panel
        Rest(server, "ada").get(f"/v1/rooms/{room}/messages")
        await bo.next_message("ada")
    position, epoch = bo.position, bo.epoch
    await bo.close()
    await ada.request("send", {"roomId": room, "text": "while bo is away"})
    bo, _ = await WsClient.connect(
        server.ws_url, server.token("bo"), position=position, epoch=epoch
    )
    panels = json.loads(DASHBOARD.read_text())["panels"]
    try:

        def empty_panels() -> list[str]:
            return [
                p["title"]
                for p in panels
                if not any(query(url, t["expr"]) for t in p.get("targets", []))
            ]

        try:
            await eventually(lambda: not empty_panels(), 60)
        except AssertionError:
            raise AssertionError(f"panels without data: {empty_panels()}") from None
    finally:
        await ada.close()
        await bo.close()


def _up(url: str) -> bool:
    try:
        return bool(query(url, 'up{job="tidings"} == 1'))
    except (httpx.HTTPError, ValueError):  # not listening yet, or 503 while it starts
        return False
