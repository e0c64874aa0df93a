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
