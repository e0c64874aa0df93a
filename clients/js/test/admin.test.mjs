// The admin web UI (/admin) in a real headless Chromium, signed in with an admin API key
// made by `tidings apikey create`; users act through the JS client over real sockets.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { chromium } from "playwright-core";
import { TidingsClient } from "../tidings.js";
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

const user = (name) => new TidingsClient(server.url, { token: server.token(name), WebSocket, backoffInitial: 0.1, backoffMax: 1 });

function rawConnection(name) {
  // A bare socket, to see the close code the server sends.
  return new Promise((ok, fail) => {
    const ws = new WebSocket(server.url);
    ws.on("open", () => ws.send(JSON.stringify({ id: "1", connect: { token: server.token(name), deviceId: "laptop" } })));
    ws.on("message", (data) => { if (JSON.parse(data).reply?.connect) ok(ws); });
    ws.on("error", fail);
  });
}

test("an operator signs in, finds a room, watches it live, publishes, asks who read a message and disconnects a user", async () => {
  const key = apikey("admin");
  const alice = user("alice");
  await alice.connect();
  const room = await alice.rest("POST", "/v1/rooms", { name: "support-desk" });
  await alice.rest("POST", `/v1/rooms/${room.roomId}/members`, { userId: "bob" });
  const bob = user("bob");
  await bob.connect();

  const page = await (await browser.newContext()).newPage();
  await page.goto(server.http + "/admin");
  await page.fill("#key", key);
  await page.click("#signin button");
  await page.waitForSelector("#console:not([hidden])");
  await page.waitForSelector('#numbers dd[data-name="mode"]');
  await page.screenshot({ path: join(SHOTS, "admin-1-overview.png") });

  await page.fill("#q", "support");
  await page.click("#search button");
  await page.click(`#rooms li[data-room-id="${room.roomId}"]`);
  await page.waitForSelector(`#room-title[data-room-id="${room.roomId}"]`);
  assert.match(await page.textContent("#members"), /alice \(owner\).*bob \(member\)/);

  const sent = await alice.send(room.roomId, "printer on fire");
  await page.waitForSelector("#tail li >> text=alice: printer on fire");
  await page.fill("#publish-text", "an engineer is on the way");
  await page.click("#publish button");
  await page.waitForSelector("#tail li >> text=system: an engineer is on the way");
  const { messages } = await bob.history(room.roomId);
  assert.ok(messages.some((m) => m.authorId === "system" && m.text === "an engineer is on the way"));
  await page.screenshot({ path: join(SHOTS, "admin-2-room-live.png") });

  // bob reads alice's message; the audit answers who received and read it.
  await bob.ack(room.roomId, sent.position, { read: true });
  await page.click(`#tail li[data-message-id="${sent.eventId}"]`);
  for (let attempt = 0; ; attempt++) {
    await page.click("#receipts-form button");
    await page.waitForFunction(() => document.querySelector("#audit-answer").textContent.length > 0);
    const answer = JSON.parse(await page.textContent("#audit-answer"));
    if (JSON.stringify(answer).includes("bob")) {
      assert.equal(answer.messageId ?? sent.eventId, sent.eventId);
      break;
    }
    assert.ok(attempt < 50, "the receipt never showed");
    await page.evaluate(() => { document.querySelector("#audit-answer").textContent = ""; });
  }
  await page.screenshot({ path: join(SHOTS, "admin-3-receipts.png") });

  // Disconnect mallory: her socket closes with 4006.
  const mallory = await rawConnection("mallory");
  const closed = new Promise((ok) => mallory.on("close", (code) => ok(code)));
  await page.fill("#session-user", "mallory");
  await page.click("#disconnect");
  assert.equal(await closed, 4006);
  await page.waitForSelector("#session-result >> text=disconnect: mallory done");
  await page.screenshot({ path: join(SHOTS, "admin-4-disconnect.png") });
  alice.close();
  bob.close();
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
