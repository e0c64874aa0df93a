"""``make bench``: Tidings (embedded and distributed) beside Centrifugo and Node socket.io.

Runs, for each system in turn on the same 2 cores and the same load generator
(``bench/load/load.mjs``, open loop):
- chat: 100 rooms of 2, every client sending, rates in steps; the highest rate with nothing
  lost and p99 under the limit (100 ms; 250 ms for distributed Tidings), CPU per message
  summed over every process of the system, and p50/p99 at about half that rate;
- storm: 5,000 clients, 200 at a time, connect + auth + join; connects/s, p99, CPU/connect;
- fanout: one publisher, 1,000 subscribers in one room (a channel followed as a room stream
  for Tidings; distributed Tidings on 2 gateways), rates in steps; the highest rate with
  nothing lost and p99 under the limit (as for chat), and server CPU per delivery;
- fanout10k: the same with 10,000 subscribers (p99 under 250 ms);
- idle: 5,000 connected, subscribed, idle clients: server memory per connection and CPU;
then the replay rate of both Tidings modes (``bench/replay.py``), and prints the tables with
Tidings/peer ratios. Results are also written as JSON (``--out``).

Usage: python bench/run.py [--systems a,b] [--workloads chat,storm,fanout,fanout10k,idle,replay]
                           [--quick]
Needs Kafka and Cassandra for distributed Tidings (make infra), node, npm and go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.peers import install_peers, run_load, systems  # noqa: E402

ALL = ["tidings-embedded", "tidings-distributed", "centrifugo", "socketio"]
FANOUT_RATES = {
    "tidings-embedded": "10,25,50,100,150,200,300,400",
    "tidings-distributed": "10,25,50,100,150,200",
    "centrifugo": "25,50,100,200,400,600,800",
    "socketio": "25,50,100,200,400",
}
FANOUT_10K_RATES = "5,10,20,40"
CHAT_RATES = {
    "tidings-embedded": "250,500,1000,2000,3000,4000,6000,8000",
    "tidings-distributed": "25,50,100,250,500,1000,1500",
    "centrifugo": "1000,2000,4000,8000,16000,24000,32000,48000",
    "socketio": "1000,2000,4000,8000,16000,24000,32000,48000",
}


def protocol_of(name: str) -> str:
    return "tidings" if name.startswith("tidings") else name


def measure(name: str, workloads: list[str], quick: bool, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    (system,) = systems([name], workdir)
    out: dict[str, Any] = {"system": name}
    print(f"== {name}", file=sys.stderr, flush=True)
    system.start()
    try:
        p99 = "250" if name == "tidings-distributed" else "100"
        # Memory first, while the process has served nothing else (later workloads leave
        # freed memory that new connections would reuse).
        if "idle" in workloads:
            out["idle"] = run_load(
                system, "idle", system.fanout_plan(1000 if quick else 5000), protocol_of(name), []
            )
        if "chat" in workloads:
            plan = system.chat_plan(200, 2)
            step = "3" if quick else "5"
            out["chat"] = run_load(
                system,
                "chat",
                plan,
                protocol_of(name),
                ["--rates", CHAT_RATES[name], "--p99-ms", p99, "--step-seconds", step],
            )
        if "storm" in workloads:
            clients = 1000 if quick else 5000
            plan = system.storm_plan(clients, 10)
            out["storm"] = run_load(
                system, "storm", plan, protocol_of(name), ["--concurrency", "200"]
            )
        if "fanout" in workloads:
            out["fanout"] = run_load(
                system,
                "fanout",
                system.fanout_plan(200 if quick else 1000),
                protocol_of(name),
                ["--rates", FANOUT_RATES[name], "--p99-ms", p99, "--step-seconds", "5"],
            )
        if "fanout10k" in workloads and not quick:
            out["fanout10k"] = run_load(
                system,
                "fanout",
                system.fanout_plan(10_000),
                protocol_of(name),
                ["--rates", FANOUT_10K_RATES, "--p99-ms", "250", "--step-seconds", "5"],
            )
    finally:
        system.stop()
    return out


def half_rate_step(chat: dict[str, Any]) -> dict[str, Any] | None:
    """The step nearest half the best passing rate (latency at a comfortable load)."""
    if not chat.get("max_rate"):
        return None
    target = chat["max_rate"] / 2
    passed = [s for s in chat["steps"] if s["passed"]]
    return min(passed, key=lambda s: abs(s["rate"] - target)) if passed else None


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def report(results: list[dict[str, Any]], replay: dict[str, float] | None) -> str:
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}",
        "",
        "chat, 100 rooms of 2, open loop: the highest rate with nothing lost and p99 under the",
        "limit (100 ms; 250 ms distributed); CPU summed over every process of the system",
        "| system | max msg/s | CPU µs/msg there | p50 / p99 at ~half that rate (ms) |",
        "|---|---|---|---|",
    ]
    for r in results:
        chat = r.get("chat")
        if not chat:
            continue
        at = chat.get("at_max") or {}
        half = half_rate_step(chat) or {}
        lines.append(
            f"| {r['system']} | {chat['max_rate']:,} | {fmt(at.get('cpu_us_per_message'))} | "
            f"{fmt(half.get('p50_ms'), '.1f')} / {fmt(half.get('p99_ms'), '.1f')} "
            f"(at {half.get('rate', '-')}) |"
        )
    lines += [
        "",
        "storm: clients connecting 200 at a time, each connect + auth + join",
        "| system | clients | connects/s | p50 / p99 (ms) | CPU ms/connect |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        storm = r.get("storm")
        if not storm:
            continue
        if "error" in storm:
            lines.append(f"| {r['system']} | failed: {storm['error']} | | | |")
            continue
        lines.append(
            f"| {r['system']} | {storm['clients']:,} | {storm['connects_per_second']:,.0f} | "
            f"{storm['p50_ms']:.0f} / {storm['p99_ms']:.0f} | {storm['cpu_ms_per_connect']:.2f} |"
        )
    lines += fanout_report(results)
    lines += ratios(results)
    if replay:
        lines += [
            "",
            "replay (rebuild projections from the log)",
            "| target | events/s |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:,.0f} |" for k, v in replay.items()]
    return "\n".join(lines)


def fanout_report(results: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for key, title in (
        (
            "fanout",
            "fanout, 1 publisher -> 1,000 subscribers in one room, p99 under 100 ms "
            "(250 ms distributed)",
        ),
        ("fanout10k", "fanout, 1 publisher -> 10,000 subscribers in one room, p99 under 250 ms"),
    ):
        rows = [r for r in results if r.get(key)]
        if not rows:
            continue
        lines += [
            "",
            title,
            "| system | max msg/s | deliveries/s | CPU µs/delivery there | p50 / p99 there (ms) | "
            "CPU µs/delivery at 50 msg/s (10 for 10k) |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            f = r[key]
            at = f.get("at_max") or {}
            low = _step(f, 10 if key == "fanout10k" else 50)
            subs = f["clients"] - 1
            lines.append(
                f"| {r['system']} | {f['max_rate']:,} | {f['max_rate'] * subs:,} | "
                f"{fmt(at.get('cpu_us_per_delivery'), '.1f')} | {fmt(at.get('p50_ms'), '.1f')} / "
                f"{fmt(at.get('p99_ms'), '.1f')} | {fmt(low.get('cpu_us_per_delivery'), '.1f')} "
                f"({'pass' if low.get('passed') else 'fail'}) |"
            )
    idle = [r for r in results if r.get("idle")]
    if idle:
        lines += [
            "",
            "idle: 5,000 connected, subscribed clients",
            "| system | KiB per connection | CPU while idle |",
            "|---|---|---|",
        ]
        lines += [
            f"| {r['system']} | {r['idle']['kib_per_connection']:.1f} | "
            f"{r['idle']['idle_cpu_percent']:.1f} % |"
            for r in idle
        ]
    return lines


def _step(result: dict[str, Any], rate: int) -> dict[str, Any]:
    return next((s for s in result.get("steps", []) if s and s["rate"] == rate), {})


def ratios(results: list[dict[str, Any]]) -> list[str]:
    """Tidings / peer, for each Tidings mode and peer measured (>1 is Tidings ahead; for CPU
    costs <1 is Tidings ahead)."""
    by_name = {r["system"]: r for r in results}
    ours = [n for n in by_name if n.startswith("tidings")]
    peers = [n for n in by_name if not n.startswith("tidings")]
    if not ours or not peers:
        return []

    def chat(name: str, key: str) -> float | None:
        c = by_name[name].get("chat") or {}
        value = c.get("max_rate") if key == "rate" else (c.get("at_max") or {}).get(key)
        return float(value) if value else None

    def storm(name: str, key: str) -> float | None:
        value = (by_name[name].get("storm") or {}).get(key)
        return float(value) if value else None

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.3g}" if a and b else "-"

    def fan(name: str, key: str, workload: str = "fanout") -> float | None:
        f = by_name[name].get(workload) or {}
        if key == "rate":
            value = f.get("max_rate")
        elif key == "cpu_low":
            value = _step(f, 50).get("cpu_us_per_delivery")
        else:
            value = (f.get("at_max") or {}).get("cpu_us_per_delivery")
        return float(value) if value else None

    def memory(name: str) -> float | None:
        value = (by_name[name].get("idle") or {}).get("kib_per_connection")
        return float(value) if value else None

    lines = [
        "",
        "Tidings / peer (same run)",
        "| Tidings | peer | chat msg/s | chat CPU/msg | storm connects/s | storm CPU/connect |",
        "|---|---|---|---|---|---|",
    ]
    for o in ours:
        for p in peers:
            lines.append(
                f"| {o} | {p} | {ratio(chat(o, 'rate'), chat(p, 'rate'))} | "
                f"{ratio(chat(o, 'cpu_us_per_message'), chat(p, 'cpu_us_per_message'))} | "
                f"{ratio(storm(o, 'connects_per_second'), storm(p, 'connects_per_second'))} | "
                f"{ratio(storm(o, 'cpu_ms_per_connect'), storm(p, 'cpu_ms_per_connect'))} |"
            )
    lines += [
        "",
        "| Tidings | peer | fanout msg/s | fanout CPU/delivery at max | at 50 msg/s | "
        "fanout10k msg/s | KiB per idle connection |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in ours:
        for p in peers:
            lines.append(
                f"| {o} | {p} | {ratio(fan(o, 'rate'), fan(p, 'rate'))} | "
                f"{ratio(fan(o, 'cpu'), fan(p, 'cpu'))} | "
                f"{ratio(fan(o, 'cpu_low'), fan(p, 'cpu_low'))} | "
                f"{ratio(fan(o, 'rate', 'fanout10k'), fan(p, 'rate', 'fanout10k'))} | "
                f"{ratio(memory(o), memory(p))} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", default=",".join(ALL))
    parser.add_argument("--workloads", default="chat,storm,fanout,fanout10k,idle,replay")
    parser.add_argument("--quick", action="store_true", help="shorter steps, 1,000-client storm")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    names = args.systems.split(",")
    workloads = args.workloads.split(",")
    if any(not n.startswith("tidings") for n in names):
        install_peers()
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as tmp:
        for name in names:
            results.append(measure(name, workloads, args.quick, Path(tmp) / name))
    replay = None
    if "replay" in workloads:
        from bench.replay import measure_replay

        replay = asyncio.run(measure_replay(quick=args.quick))
    Path(args.out).write_text(json.dumps({"results": results, "replay": replay}, indent=2))
    print(report(results, replay))
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
