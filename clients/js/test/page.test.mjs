// The chat page's first-hour details in headless Chromium: layout at 1280 and 390 px,
// a pinned composer and auto-scroll, sign-in errors and a refused cached token, pending
// sends while offline, timestamps, the empty state, deleted messages, no 404s.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startServer, startSilenceableRelay } from "./server.mjs";

const SHOTS = resolve(import.meta.dirname, "../../../test-artifacts/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
let server, browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({}, { devMode: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => { await browser?.close(); server?.stop(); });

async function open(width, height = 800) {
  const context = await browser.newContext({ viewport: { width, height }, bypassCSP: true }); // waitForFunction polls by eval
  const page = await context.newPage();
  const missing = [];
  page.on("response", (r) => { if (r.status() === 404) missing.push(r.url()); });
  await page.goto(server.http + "/");
  return { context, page, missing };
}

async function signIn(page, user) {
  await page.fill("#user", user);
  await page.click("#login-form button");
  await page.waitForSelector('#state[data-state="connected"], #state[data-state="resumed"]');
}

async function newRoom(page, name) {
  await page.fill("#new-room", name);
  await page.click("#create-form button");
  await page.waitForSelector("#room-title[data-room-id]");
  return page.getAttribute("#room-title", "data-room-id");
}

test("a long conversation keeps the composer in view and scrolls to the newest message, wide and narrow", async () => {
  for (const width of [1280, 390]) {
    const { context, page, missing } = await open(width);
    assert.equal(await page.isVisible("#chat"), false); // nothing of the chat under the login form
    await signIn(page, `lena${width}`);
    const roomId = await newRoom(page, `long-${width}`);
    await page.waitForSelector("#empty", { state: "visible" }); // once the (empty) history has loaded
    await page.evaluate(async (id) => {
      for (let i = 0; i < 40; i++) await window.tidingsApp.client.rest("POST", `/v1/rooms/${id}/messages`, { text: `line ${i}` });
    }, roomId);
    await page.waitForSelector("#timeline li .text >> text=line 39");
    await page.waitForFunction(() => {
      const last = document.querySelector("#timeline li:last-child").getBoundingClientRect();
      const composer = document.querySelector("#composer").getBoundingClientRect();
      return last.bottom <= window.innerHeight && composer.bottom <= window.innerHeight;
    });
    assert.equal(await page.isVisible("#empty"), false);
    const box = await page.locator("#timeline").boundingBox();
    assert.ok(box.width > width * 0.7, `timeline ${box.width}px wide at ${width}px`);
    assert.match(await page.textContent("#timeline li:last-child time"), /\d/);
    await page.screenshot({ path: join(SHOTS, `page-${width}-long.png`) });
    assert.deepEqual(missing, []);
    await context.close();
  }
});

test("a refused cached token is replaced, and a sign-in error is shown", async () => {
  const { context, page } = await open(1280);
  await page.evaluate(() => { localStorage.setItem("tidings.token.mia", "not-a-token"); localStorage.setItem("tidings.user", "mia"); });
  await page.reload();
  await page.waitForSelector('#state[data-state="connected"]');
  assert.equal(await page.textContent("#me"), "mia");
  await page.evaluate(() => localStorage.clear());
  await page.route("**/dev/token", (route) => route.fulfill({ status: 422, contentType: "application/json", body: JSON.stringify({ error: { code: "INVALID_ARGUMENT", message: "user ids are 1 to 128 printable characters" } }) }));
  await page.reload();
  await page.fill("#user", "x".repeat(128));
  await page.click("#login-form button");
  await page.waitForSelector("#login-error >> text=user ids are 1 to 128 printable characters");
  assert.equal(await page.isVisible("#chat"), false);
  await page.screenshot({ path: join(SHOTS, "page-sign-in-error.png") });
  await context.close();
});

test("a message typed offline shows as pending and is sent once back online; deleted ones lose their buttons", async () => {
  const { context, page } = await open(1280);
  await signIn(page, "nina");
  await newRoom(page, "offline-sends");
  await context.setOffline(true);
  await page.evaluate(() => window.tidingsApp.client.dropConnection());
  await page.waitForSelector('#state[data-state="reconnecting"]');
  await page.fill("#composer", "typed while offline");
  await page.click("#composer-form button");
  await page.waitForSelector("#timeline li.pending >> text=sending…");
  await page.screenshot({ path: join(SHOTS, "page-pending-send.png") });
  await context.setOffline(false);
  await page.waitForSelector('#timeline li[data-message-id] .text >> text="typed while offline"', { timeout: 30000 });
  await page.waitForSelector("#timeline li.pending", { state: "detached" });
  assert.equal(await page.locator("#timeline li .text", { hasText: "typed while offline" }).count(), 1);
  const mine = page.locator("#timeline li[data-message-id]", { hasText: "typed while offline" });
  await mine.locator("button.delete").click();
  await page.waitForSelector("#timeline li.deleted .text >> text=message deleted");
  assert.equal(await page.locator("#timeline li.deleted button").first().isVisible(), false);
  await context.close();
});

test("a vanished network shows as reconnecting within the heartbeat interval and timeout", async () => {
  const quick = await startServer({ TIDINGS_HEARTBEAT_INTERVAL_SECONDS: "1", TIDINGS_HEARTBEAT_TIMEOUT_SECONDS: "1" }, { devMode: true });
  const network = await startSilenceableRelay(quick.port);
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  try {
    await page.goto(network.http + "/");
    await signIn(page, "otto");
    // Every state the client passes through: a reconnect on a loaded machine can be brief.
    await page.evaluate(() => { window.seenStates = []; window.tidingsApp.client.on("state", ({ state }) => window.seenStates.push(state)); });
    network.freeze(); // no socket closes: only the silence tells
    const seen = () => page.evaluate(() => window.seenStates);
    await page.waitForFunction(() => window.seenStates.includes("reconnecting"), null, { timeout: 15000 })
      .catch(async (error) => { throw new Error(`no reconnect within 15 s; states seen: ${JSON.stringify(await seen())}; ${error.message}`); });
    await page.screenshot({ path: join(SHOTS, "page-offline.png") });
    network.thaw();
    await page.waitForSelector('#state[data-state="resumed"], #state[data-state="connected"]', { timeout: 30000 })
      .catch(async (error) => { throw new Error(`no reconnect after the network came back; states seen: ${JSON.stringify(await seen())}; relay: ${JSON.stringify(network.stats())}; socket: ${await page.evaluate(() => { const c = window.tidingsApp.client; return JSON.stringify({ readyState: c._ws && c._ws.readyState, url: c._ws && c._ws.url, closed: c._closed, urls: c.urls }); })}; ${error.message}`); });
  } finally {
    await context.close();
    network.stop();
    quick.stop();
  }
});
