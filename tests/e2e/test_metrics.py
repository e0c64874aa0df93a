"""Each process's /metrics after a workload, in both modes: the gateway counts the sends it
took and the deliveries it made; in distributed mode the processor serves its own (role
``processor``) with the commands it decided and the records both projection stages handled.
In-process checks of every family: tests/inprocess/test_metrics.py."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.client import WsClient
from tests.e2e.conftest import Rest, Server, eventually
from tests.e2e.server import DistributedStack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_each_process_counts_what_a_workload_did(server: Server) -> None:
    sends = 6
    room = Rest(server, "mia").create_room()
    Rest(server, "mia").post(f"/v1/rooms/{room}/members", {"userId": "noah"})
    gateways = [f"{url}/metrics" for url in server.http_urls]
    noah, _ = await WsClient.connect(server.ws_urls[-1], server.token("noah"))
    mia, _ = await WsClient.connect(server.ws_urls[0], server.token("mia"))
    processor = server.processor_metrics_url if isinstance(server, DistributedStack) else None
    before = [scrape(url) for url in gateways]
    decided = scrape(processor) if processor else {}
    try:
        for i in range(sends):
            reply = await mia.request("send", {"roomId": room, "text": f"metric {i}"})
            assert "send" in reply, reply
        for _ in range(sends):
            await noah.next_message("mia")
    finally:
        await mia.close()
        await noah.close()
    after = [scrape(url) for url in gateways]

    sent = "tidings_commands_total"
    assert (
        total(after[0], sent, command="send", outcome="ok")
        - total(before[0], sent, command="send", outcome="ok")
        == sends
    )
    delivered = "tidings_delivery_latency_seconds_count"
    assert total(after[-1], delivered) - total(before[-1], delivered) >= sends
    for samples in after:
        assert total(samples, "tidings_process_info", role="gateway") == 1

    if processor is None:
        return
    stages = "tidings_stage_records_total"

    def moved(name: str, **labels: str) -> float:
        return total(scrape(processor), name, **labels) - total(decided, name, **labels)

    await eventually(lambda: moved("tidings_writer_batch_commands_sum") >= sends, 30)
    await eventually(lambda: moved(stages, stage="events") >= sends, 30)
    await eventually(lambda: moved(stages, stage="inbox") >= sends, 30)
    assert total(scrape(processor), "tidings_process_info", role="processor") == 1
    lag = "tidings_pipeline_lag_events"
    await eventually(lambda: total(scrape(gateways[0]), lag, stage="projections") == 0, 30)
