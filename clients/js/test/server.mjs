// Starts a real `tidings serve` on 127.0.0.1 for the JS tests, and mints tokens.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
export const PYTHON = process.env.TIDINGS_PYTHON || join(ROOT, ".venv/bin/python");

function freePort() {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => ok(port)); });
  });
}

export async function startServer(extraEnv = {}, { devMode = false } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "tidings-js-"));
  const env = { ...process.env, TIDINGS_JWT_SECRET: "js-test-secret-" + "x".repeat(40), TIDINGS_PRESENCE_GRACE_SECONDS: "0.5", ...extraEnv };
  if (devMode) delete env.TIDINGS_JWT_SECRET; // tokens from the data directory's dev secret
  const args = ["-m", "api.cli", "serve", "--data-dir", dataDir, "--port", String(port)];
  let child = spawn(PYTHON, args, { cwd: ROOT, env, stdio: "ignore" });
  const server = {
    port,
    dataDir,
    url: `ws://127.0.0.1:${port}/v1/ws`,
    http: `http://127.0.0.1:${port}`,
    token: (user, namespaces = []) => execFileSync(
      PYTHON,
      ["-m", "api.cli", "token", user, "--data-dir", dataDir, ...namespaces.flatMap((ns) => ["--ns", ns])],
      { cwd: ROOT, env },
    ).toString().trim(),
    async ready() {
      for (let i = 0; i < 300; i++) {
        try { if ((await fetch(`${this.http}/readyz`)).ok) return; } catch {}
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("server not ready");
    },
    kill() { child.kill("SIGKILL"); },
    async restart() { child = spawn(PYTHON, args, { cwd: ROOT, env, stdio: "ignore" }); await this.ready(); },
    stop() { child.kill("SIGTERM"); },
  };
  await server.ready();
  return server;
}

/** A TCP relay to `port` whose silence can be switched on: a network that vanished without
 * closing a socket, which Chromium's offline emulation does not reliably do to a WebSocket
 * already open. Frozen, it carries nothing either way on the open connections and refuses
 * new ones (unreachable); thawed, it drops the connections it froze (their network is gone)
 * and relays again. */
export async function startSilenceableRelay(port) {
  const { createConnection } = await import("node:net");
  let frozen = false;
  const live = new Set();
  let refused = 0;
  const relay = (client) => {
    const upstream = createConnection({ host: "127.0.0.1", port });
    const pair = { client, upstream };
    live.add(pair);
    client.pipe(upstream).pipe(client);
    const end = () => { live.delete(pair); client.destroy(); upstream.destroy(); };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  };
  let accepted = 0;
  const listener = createServer((client) => {
    accepted += 1;
    if (frozen) { refused += 1; client.destroy(); } else relay(client);
  });
  await new Promise((ok) => listener.listen(0, "127.0.0.1", ok));
  const relayPort = listener.address().port;
  return {
    http: `http://127.0.0.1:${relayPort}`,
    freeze() {
      frozen = true;
      for (const { client, upstream } of live) {
        client.unpipe(upstream); upstream.unpipe(client); client.pause(); upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const { client, upstream } of [...live]) { client.destroy(); upstream.destroy(); }
    },
    stats() { return { frozen, live: live.size, refused, accepted }; },
    stop() { listener.close(); for (const { client, upstream } of live) { client.destroy(); upstream.destroy(); } },
  };
}
