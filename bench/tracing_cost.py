"""What tracing costs the embedded server: CPU per message with TIDINGS_TRACING off and on
(spans exported over OTLP/HTTP to a receiver in this process), alternating, in one run.

Each run starts a server, puts 10 clients in one room and has each send in turn, one message
in flight (bench/compare.py's light load), and divides the server's CPU time by the messages
sent. Bounded: ``--rounds`` rounds, at most two minutes each.

Usage: python bench/tracing_cost.py [--repeats 3] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import one_at_a_time_latency  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402

CLIENTS = 10


async def one_run(env: dict[str, str], rounds: int) -> tuple[float, float]:
    """CPU µs per message and p50 ms send-to-receive."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env).start()
        try:
            assert server.process is not None and server.process.popen is not None
            cpu = psutil.Process(server.process.popen.pid)
            before = sum(cpu.cpu_times()[:2])
            p50, _, _ = await one_at_a_time_latency(server, CLIENTS, rounds)
            used = sum(cpu.cpu_times()[:2]) - before
        finally:
            server.stop()
    return used / (CLIENTS * rounds) * 1e6, p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", choices=["off", "on"], help="one setting (a baseline run)")
    args = parser.parse_args()
    from tests.e2e.test_tracing import Receiver

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    settings = {
        "off": {},
        "on": {
            "TIDINGS_TRACING": "true",
            "TIDINGS_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "500",
        },
    }
    results: dict[str, list[float]] = {"off": [], "on": []}
    if args.only:
        settings = {args.only: settings[args.only]}
    for _ in range(args.repeats):
        for name, env in settings.items():
            per_message, p50 = asyncio.run(one_run(env, args.rounds))
            results[name].append(per_message)
            print(f"tracing {name:3}: {per_message:7.0f} µs CPU per message, p50 {p50:.1f} ms")
    medians = {k: statistics.median(v) for k, v in results.items() if v}
    print("median: " + ", ".join(f"{k} {v:.0f} µs per message" for k, v in medians.items()))
    if len(medians) == 2:
        print(f"on/off = {medians['on'] / medians['off']:.2f}")
    print(f"spans received: {len(receiver.spans)}")
    receiver.shutdown()


if __name__ == "__main__":
    main()
