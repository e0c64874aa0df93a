// The admin web UI (/admin) in a real headless Chromium, signed in with an admin API key
// made by `tidings apikey create`; users act through the JS client over real sockets.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { operatorFlow } from "./admin-flow.mjs";
import { PYTHON, startServer } from "./server.mjs";

const ROOT = resolve(import.meta.dirname, "../../..");
const SHOTS = resolve(ROOT, "test-artifacts/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
let server, browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => { await browser?.close(); server?.stop(); });

const apikey = (...scopes) => execFileSync(
  PYTHON,
  ["-m", "api.cli", "apikey", "--data-dir", server.dataDir, "create", "--name", "admin-ui", ...scopes.map((s) => `--scope=${s}`)],
  { cwd: ROOT },
).toString().trim();

test("an operator signs in, finds a room, watches it live, publishes, asks who read a message and disconnects a user", async () => {
  await operatorFlow({
    browser,
    http: server.http,
    wsUrls: [server.url],
    key: apikey("admin"),
    token: (name) => server.token(name),
    processes: 1,
    shots: SHOTS,
    prefix: "embedded",
  });
});

test("a key without the admin scope cannot sign in", async () => {
  const key = apikey("read");
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.http + "/admin");
  await page.fill("#key", key);
  await page.click("#signin button");
  await page.waitForSelector("#status >> text=lacks the 'admin' scope");
  assert.equal(await page.isVisible("#console"), false);
});
