// Open-loop load generator: the same workloads against Tidings, Centrifugo and socket.io.
//
//   node load.mjs chat  --system S --url U --secret K --plan plan.json --rates 250,500,...
//   node load.mjs storm --system S --url U --secret K --plan plan.json --concurrency 200
//   node load.mjs idle  --system S --url U --secret K --plan plan.json --idle-seconds 10
//
// plan.json: {"clients": [{"user": "u0", "room": "r0", "join": true}, ...]}. Rooms hold the
// clients that name them; every client of a room receives what the others send. A client
// with "send": false only listens (fan-out: one publisher, many subscribers); with
// "follow": true a Tidings client follows the room's stream (a channel) instead of joining.
// --url may list several gateways (comma-separated): clients are spread over them.
//
// chat: every client connects (and joins when asked), then each rate step sends `rate`
// messages per second in total for --step-seconds, round-robin over the clients, without
// waiting for any answer (open loop); each message carries its send time. After a step the
// generator waits up to --drain-seconds for every expected delivery (a message reaching each
// other member of its room). A step passes when nothing is lost and p99 < --p99-ms. CPU is read
// from /proc for --pids (every process of the system under test). Stops after two failed
// steps. storm: opens --clients connections, --concurrency at a time, each connect + auth +
// join, and reports connects/s and p99 of one client's connect-to-joined time. idle: memory
// (VmRSS summed over --pids) per connected, subscribed client, and CPU while all are idle.
// Prints one JSON object on stdout; progress goes to stderr. Every loop is bounded.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { PROTOCOLS } from "./protocols.mjs";

function parseArgs(argv) {
  const [workload, ...rest] = argv;
  const opts = {
    workload,
    rates: "250,500,1000,2000,4000,8000,16000",
    stepSeconds: 5,
    drainSeconds: 3,
    p99Ms: 100,
    concurrency: 200,
    size: 200,
    pids: "",
    deadlineSeconds: 600,
    idleSeconds: 10,
  };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase());
    opts[key] = rest[i + 1];
  }
  for (const k of ["stepSeconds", "drainSeconds", "p99Ms", "concurrency", "size", "deadlineSeconds", "idleSeconds"]) {
    opts[k] = Number(opts[k]);
  }
  opts.rates = String(opts.rates).split(",").map(Number);
  opts.pids = String(opts.pids).split(",").filter(Boolean).map(Number);
  return opts;
}

const TICKS = 100; // clock ticks per second in /proc/<pid>/stat (USER_HZ)

function cpuSeconds(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime
    } catch {
      // the process is gone: it adds nothing more
    }
  }
  return total;
}

function rssKiB(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      total += Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    } catch {
      // gone
    }
  }
  return total;
}

function percentile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const log = (...args) => console.error(...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nextUrl = 0;

class Client {
  constructor(opts, spec, hooks) {
    const Protocol = PROTOCOLS[opts.system];
    this.spec = spec;
    const urls = String(opts.url).split(",");
    const url = Protocol.url({ ...opts, url: urls[nextUrl++ % urls.length] });
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.protocol = new Protocol(opts, spec.user, this.ws, hooks);
    this.ws.on("message", (data, isBinary) => {
      if (!isBinary) this.protocol.onText(data.toString());
    });
    this.ws.on("error", (err) => hooks.error(String(err)));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
      this.ws.once("close", (code) => reject(new Error(`closed ${code}`)));
    });
  }
  async start() {
    await this.opened;
    await this.protocol.handshake();
    if (this.spec.follow) await this.protocol.follow(this.spec.room);
    else if (this.spec.join) await this.protocol.join(this.spec.room);
  }
  close() {
    this.ws.terminate();
  }
}

async function withDeadline(promise, seconds, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function connectAll(opts, specs, hooks, concurrency) {
  const clients = new Array(specs.length);
  const latencies = [];
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < specs.length) {
      const i = next++;
      const t0 = performance.now();
      clients[i] = new Client(opts, specs[i], hooks);
      await withDeadline(clients[i].start(), 60, `client ${specs[i].user}`);
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  return { clients, latencies, seconds: (performance.now() - started) / 1000 };
}

async function chat(opts, specs) {
  const members = new Map();
  for (const s of specs) members.set(s.room, (members.get(s.room) || 0) + 1);
  const steps = [];
  let current = null;
  const hooks = {
    message(data) {
      const step = steps[data.s];
      if (!step) return;
      step.received++;
      step.latencies.push(performance.now() - data.t);
    },
    error(text) {
      if (current) current.errors++;
      if (current && current.errors <= 3) log(`  error: ${text}`);
    },
  };
  const { clients } = await connectAll(opts, specs, hooks, opts.concurrency);
  const senders = clients.filter((c) => c.spec.send !== false);
  log(`${opts.system}: ${clients.length} clients connected in ${members.size} rooms, ${senders.length} sending`);
  await sleep(1000);
  const pad = "x".repeat(Math.max(0, opts.size - 90));
  const deadline = performance.now() + opts.deadlineSeconds * 1000;
  let failures = 0;
  let rr = 0;
  for (const rate of opts.rates) {
    if (failures >= 2 || performance.now() > deadline) break;
    const step = { rate, sent: 0, expected: 0, received: 0, errors: 0, latencies: [] };
    const index = steps.push(step) - 1;
    current = step;
    const cpu0 = cpuSeconds(opts.pids);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const total = Math.round(rate * opts.stepSeconds);
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        while (step.sent < due) {
          const client = senders[rr++ % senders.length];
          const { user, room } = client.spec;
          client.protocol.send(room, { u: user, s: index, t: performance.now(), p: pad });
          step.sent++;
          step.expected += members.get(room) - 1;
        }
        if (step.sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const sendSeconds = (performance.now() - t0) / 1000;
    const drainUntil = performance.now() + opts.drainSeconds * 1000;
    while (step.received < step.expected && performance.now() < drainUntil) await sleep(20);
    const cpu = cpuSeconds(opts.pids) - cpu0;
    const own = process.cpuUsage(own0);
    const sorted = step.latencies.sort((a, b) => a - b);
    const result = {
      rate,
      loadgen_cpu_seconds: (own.user + own.system) / 1e6,
      sent: step.sent,
      achieved_rate: step.sent / sendSeconds,
      expected: step.expected,
      received: step.received,
      lost: step.expected - step.received,
      errors: step.errors,
      p50_ms: percentile(sorted, 0.5),
      p99_ms: percentile(sorted, 0.99),
      cpu_seconds: cpu,
      cpu_us_per_message: (cpu / step.sent) * 1e6,
      cpu_us_per_delivery: step.received ? (cpu / step.received) * 1e6 : null,
    };
    result.passed = result.lost === 0 && result.errors === 0 && result.p99_ms !== null && result.p99_ms < opts.p99Ms;
    step.result = result;
    step.latencies = [];
    current = null;
    log(
      `  ${rate} msg/s: lost ${result.lost}/${result.expected}, p50 ${result.p50_ms?.toFixed(1)} ms, ` +
        `p99 ${result.p99_ms?.toFixed(1)} ms, CPU ${result.cpu_us_per_message.toFixed(0)} us/msg ` +
        `(load generator ${((result.loadgen_cpu_seconds / step.sent) * 1e6).toFixed(0)}) ` +
        `${result.passed ? "PASS" : "FAIL"}`,
    );
    failures = result.passed ? 0 : failures + 1;
    // Let a failed step's backlog clear before the next one starts.
    const settle = performance.now() + (result.passed ? 500 : 10000);
    while (step.received < step.expected && performance.now() < settle) await sleep(50);
    await sleep(500);
  }
  for (const c of clients) c.close();
  const results = steps.map((s) => s.result);
  const passing = results.filter((r) => r.passed);
  const best = passing.length ? passing[passing.length - 1] : null;
  return { workload: opts.workload, system: opts.system, clients: clients.length, rooms: members.size, steps: results, max_rate: best ? best.rate : 0, at_max: best };
}

async function idle(opts, specs) {
  const hooks = { message() {}, error() {} };
  const before = rssKiB(opts.pids);
  const outcome = await connectAll(opts, specs, hooks, opts.concurrency);
  await sleep(3000); // let allocations settle
  const after = rssKiB(opts.pids);
  const cpu0 = cpuSeconds(opts.pids);
  await sleep(opts.idleSeconds * 1000);
  const cpu = cpuSeconds(opts.pids) - cpu0;
  for (const c of outcome.clients) c.close();
  const result = {
    workload: "idle",
    system: opts.system,
    clients: specs.length,
    rss_before_kib: before,
    rss_after_kib: after,
    kib_per_connection: (after - before) / specs.length,
    idle_cpu_percent: (cpu / opts.idleSeconds) * 100,
  };
  log(
    `  idle: ${result.kib_per_connection.toFixed(1)} KiB/connection, ` +
      `${result.idle_cpu_percent.toFixed(1)} % CPU while ${specs.length} clients idle`,
  );
  return result;
}

async function storm(opts, specs) {
  const hooks = { message() {}, error() {} };
  const cpu0 = cpuSeconds(opts.pids);
  let outcome;
  try {
    outcome = await connectAll(opts, specs, hooks, opts.concurrency);
  } catch (err) {
    return { workload: "storm", system: opts.system, error: String(err) };
  }
  const cpu = cpuSeconds(opts.pids) - cpu0;
  const sorted = outcome.latencies.sort((a, b) => a - b);
  for (const c of outcome.clients) c.close();
  const result = {
    workload: "storm",
    system: opts.system,
    clients: specs.length,
    concurrency: opts.concurrency,
    seconds: outcome.seconds,
    connects_per_second: specs.length / outcome.seconds,
    p50_ms: percentile(sorted, 0.5),
    p99_ms: percentile(sorted, 0.99),
    cpu_seconds: cpu,
    cpu_ms_per_connect: (cpu / specs.length) * 1000,
  };
  log(
    `  storm: ${result.connects_per_second.toFixed(0)} connects/s, p99 ${result.p99_ms.toFixed(0)} ms, ` +
      `CPU ${result.cpu_ms_per_connect.toFixed(2)} ms/connect`,
  );
  return result;
}

const opts = parseArgs(process.argv.slice(2));
const specs = JSON.parse(readFileSync(opts.plan, "utf8")).clients;
const run = { chat, fanout: chat, storm, idle }[opts.workload];
if (!run) {
  console.error("usage: node load.mjs chat|storm --system tidings|centrifugo|socketio ...");
  process.exit(2);
}
const result = await run(opts, specs);
console.log(JSON.stringify(result));
process.exit(0);
