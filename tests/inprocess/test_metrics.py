"""/metrics after a scripted workload: the key series move by exactly what the workload did
(counts), latencies land in the histograms, and every query of the Grafana dashboard names
a metric the server exposes (docs/operations.md, "What to watch")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from api.settings import Settings
from tests.inprocess.harness import Ws, bearer, shared_room, token

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "tidings.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_key_series_count_exactly_what_a_workload_did(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = shared_room(client, settings, "alice", "bob")
    headers = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    bob = connect("bob", device="phone")
    alice = connect("alice")
    before = scrape(client)

    for i in range(5):
        alice.command("send", roomId=room, text=f"ws {i}")
    for i in range(3):
        posted = client.post(
            f"/v1/rooms/{room}/messages", json={"text": f"rest {i}"}, headers=headers
        )
        assert posted.status_code == 201
    refused = client.post(f"/v1/rooms/{room}/messages", json={"text": ""}, headers=headers)
    assert refused.status_code == 422
    alice.session.send_text(json.dumps({"id": "x", "send": {"roomId": room, "text": ""}}))
    alice.until(lambda f: f.get("reply", {}).get("id") == "x")
    for _ in range(8):
        bob.push("event")
    inbox = client.get("/v1/inbox?after=0", headers=bearer(settings, "bob")).json()
    position, epoch = inbox["head"] - 3, inbox["epoch"]
    with client.websocket_connect("/v1/ws") as session:
        resumed = Ws(session).command(
            "connect",
            token=token(settings, "bob"),
            deviceId="tablet",
            inbox={"position": str(position), "epoch": epoch},
        )["connect"]
        assert resumed["recovery"] == "RECOVERY_RECOVERED" and resumed["missed"] == "3"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tidings_commands_total", command="send", outcome="ok") == 5
    assert moved("tidings_commands_total", command="send", outcome="INVALID_ARGUMENT") == 1
    assert moved("tidings_command_duration_seconds_count", command="send", outcome="ok") == 5
    seconds = moved("tidings_command_duration_seconds_sum", command="send", outcome="ok")
    assert 0 < seconds < 5 * 10  # within the histogram's buckets
    route = "/v1/rooms/{room_id}/messages"
    assert moved("tidings_http_requests_total", method="POST", route=route, status="201") == 3
    assert moved("tidings_http_requests_total", method="POST", route=route, status="422") == 1
    assert moved("tidings_http_request_duration_seconds_count", method="POST", route=route) == 4
    assert moved("tidings_resumes_total", outcome="RECOVERED") == 1
    assert moved("tidings_resume_replayed_events_sum") == 3
    # Each of the 8 messages was fanned out once to the connected members (by inbox).
    assert moved("tidings_delivery_latency_seconds_count", stream="inbox") >= 8
    assert value(after, "tidings_pipeline_lag_events", stage="projections", partition="0") == 0
    assert value(after, "tidings_process_info", role="gateway", mode="embedded") == 1
    # The single writer decided the 8 sends (in batches); the projection stage took them.
    assert moved("tidings_writer_batch_commands_sum", writer="embedded") >= 8
    assert moved("tidings_stage_records_total", stage="projections") >= 8
    assert value(after, "tidings_namespace_connections", namespace="default") >= 2
    connections = value(after, "tidings_send_queue_frames_bucket", le="+Inf")
    assert connections == value(after, "tidings_namespace_connections", namespace="default")


def test_server_api_routes_are_labelled_under_their_mount(client: TestClient) -> None:
    before = scrape(client)
    assert client.get("/api/v1/rooms").status_code == 401
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)
    for route, status in (("/api/v1/rooms", "401"), ("unmatched", "404")):
        labels = {"method": "GET", "route": route, "status": status}
        moved = value(after, "tidings_http_requests_total", **labels) - value(
            before, "tidings_http_requests_total", **labels
        )
        assert moved == 1, (route, status)


def test_every_dashboard_query_names_a_metric_the_server_exposes(client: TestClient) -> None:
    exposed = {
        family.name for family in text_string_to_metric_families(client.get("/metrics").text)
    }
    series = {
        sample.name
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 8
    for query in queries:
        names = set(re.findall(r"\btidings_[a-z_]+", query))
        assert names, query
        unknown = {n for n in names if n not in series and _family(n) not in exposed}
        assert not unknown, (query, unknown)


def _family(series: str) -> str:
    """The family a series belongs to (a counter's family drops ``_total``, a histogram's
    ``_bucket``, ``_count`` and ``_sum``)."""
    return re.sub(r"_(total|bucket|count|sum|info)$", "", series)
