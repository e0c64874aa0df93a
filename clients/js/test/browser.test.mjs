// The web chat page in a real headless Chromium (Debian's package), driven by playwright-core.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "./server.mjs";

const SHOTS = resolve(import.meta.dirname, "../../../test-artifacts/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
let server, browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({}, { devMode: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => { await browser?.close(); server?.stop(); });

async function signIn(context, user) {
  const page = await context.newPage();
  await page.goto(server.http + "/");
  await page.fill("#user", user);
  await page.click("#login-form button");
  await page.waitForSelector('#state[data-state="connected"], #state[data-state="resumed"]');
  return page;
}

const count = (page, text) => page.locator("#timeline li .text", { hasText: new RegExp(`^${text}$`) }).count();

async function send(page, text) {
  await page.fill("#composer", text);
  await page.click("#composer-form button");
}

test("two users chat; one goes offline, comes back and after a reload sees every message once", async () => {
  const aliceContext = await browser.newContext();
  const bobContext = await browser.newContext();
  const alice = await signIn(aliceContext, "alice");
  await alice.fill("#new-room", "general");
  await alice.click("#create-form button");
  await alice.waitForSelector("#room-title[data-room-id]");
  const roomId = await alice.getAttribute("#room-title", "data-room-id");

  const bob = await signIn(bobContext, "bob");
  await bob.fill("#join-room", roomId);
  await bob.click("#join-form button");
  await bob.waitForSelector(`#room-title[data-room-id="${roomId}"]`);

  await send(alice, "hello bob");
  await bob.waitForSelector("#timeline li .text >> text=hello bob");
  await bob.fill("#composer", "typing…");
  await alice.waitForSelector("#typing >> text=bob typing");
  await send(bob, "hi alice");
  await alice.waitForSelector("#timeline li .text >> text=hi alice");
  await alice.waitForSelector(".receipts >> text=seen by bob");
  await alice.screenshot({ path: join(SHOTS, "1-alice-chatting.png") });

  // bob loses the network; alice keeps talking
  await bobContext.setOffline(true);
  await bob.evaluate(() => window.tidingsApp.client.dropConnection());
  await bob.waitForSelector('#state[data-state="reconnecting"]');
  for (const text of ["missed one", "missed two", "missed three"]) await send(alice, text);
  await alice.waitForSelector("#timeline li .text >> text=missed three");
  await bob.screenshot({ path: join(SHOTS, "2-bob-offline.png") });

  await bobContext.setOffline(false);
  await bob.waitForSelector('#state[data-state="resumed"]', { timeout: 30000 });
  await bob.waitForSelector("#timeline li .text >> text=missed three");
  for (const text of ["hello bob", "missed one", "missed two", "missed three"]) {
    assert.equal(await count(bob, text), 1, text);
  }
  await bob.screenshot({ path: join(SHOTS, "3-bob-resumed.png") });

  // a reload restores the user, resumes from the stored position, shows nothing twice
  await send(alice, "after reload");
  await bob.reload();
  await bob.waitForSelector('#state[data-state="resumed"], #state[data-state="connected"]');
  await bob.waitForSelector("#timeline li .text >> text=after reload");
  for (const text of ["hello bob", "missed one", "missed three", "after reload"]) {
    assert.equal(await count(bob, text), 1, text);
  }
  await bob.screenshot({ path: join(SHOTS, "4-bob-reloaded.png") });

  // edit and delete
  const own = alice.locator("#timeline li", { hasText: "missed two" });
  alice.once("dialog", (dialog) => dialog.accept("missed two (fixed)"));
  await own.locator("button.edit").click();
  await bob.waitForSelector("#timeline li.edited .text >> text=missed two (fixed)");
  await alice.locator("#timeline li", { hasText: "missed one" }).locator("button.delete").click();
  await bob.waitForSelector("#timeline li.deleted .text >> text=message deleted");
  await bob.screenshot({ path: join(SHOTS, "5-edit-delete.png") });
  await aliceContext.close();
  await bobContext.close();
});

test("a channel: the owner broadcasts, a reader follows it live and after going offline", async () => {
  const ownerContext = await browser.newContext();
  const readerContext = await browser.newContext({ bypassCSP: true }); // waitForFunction polls by eval
  const olga = await signIn(ownerContext, "olga");
  await olga.fill("#new-room", "news");
  await olga.check("#new-channel");
  await olga.click("#create-form button");
  await olga.waitForSelector('#room-title[data-kind="channel"]');
  const roomId = await olga.getAttribute("#room-title", "data-room-id");

  const rita = await signIn(readerContext, "rita");
  await olga.evaluate((id) => window.tidingsApp.client.rest("POST", `/v1/rooms/${id}/members`, { userId: "rita" }), roomId);
  await rita.waitForSelector(`#rooms li[data-room-id="${roomId}"][data-kind="channel"]`);
  await rita.click(`#rooms li[data-room-id="${roomId}"]`);
  await rita.waitForSelector("#composer[disabled]"); // readers do not post in a channel
  await rita.waitForFunction((id) => window.tidingsApp.client.rooms.has(id), roomId);

  await send(olga, "first news");
  await rita.waitForSelector("#timeline li .text >> text=first news");
  await readerContext.setOffline(true);
  await rita.evaluate(() => window.tidingsApp.client.dropConnection());
  await rita.waitForSelector('#state[data-state="reconnecting"]');
  for (const text of ["while away 1", "while away 2"]) await send(olga, text);
  await olga.waitForSelector("#timeline li .text >> text=while away 2");
  await readerContext.setOffline(false);
  await rita.waitForSelector("#timeline li .text >> text=while away 2", { timeout: 30000 });
  for (const text of ["first news", "while away 1", "while away 2"]) {
    assert.equal(await count(rita, text), 1, text);
  }
  await rita.screenshot({ path: join(SHOTS, "6-channel-reader.png") });
  await ownerContext.close();
  await readerContext.close();
});

test("a new user finds a public room by name, joins it, copies its id and opens a direct conversation", async () => {
  const ownerContext = await browser.newContext();
  const newcomerContext = await browser.newContext();
  const owner = await signIn(ownerContext, "dora");
  await owner.fill("#new-room", "general-directory");
  await owner.click("#create-form button");
  await owner.waitForSelector("#room-title[data-room-id]");
  const roomId = await owner.getAttribute("#room-title", "data-room-id");

  const newcomer = await signIn(newcomerContext, "ned");
  // A name that is no room says so on screen.
  await newcomer.fill("#join-room", "no-such-room-anywhere");
  await newcomer.click("#join-form button");
  await newcomer.waitForSelector('#join-error >> text=no public room is named "no-such-room-anywhere"');
  // Joining by name finds it in the directory.
  await newcomer.fill("#join-room", "general-directory");
  await newcomer.click("#join-form button");
  await newcomer.waitForSelector(`#room-title[data-room-id="${roomId}"]`);
  assert.equal(await newcomer.textContent("#room-id"), roomId);
  await newcomer.fill("#directory-q", "general-dir");
  await newcomer.click("#directory-form button");
  await newcomer.waitForSelector(`#directory li[data-room-id="${roomId}"] >> text=(2)`);
  await newcomer.screenshot({ path: join(SHOTS, "7-directory.png") });
  // A direct conversation by user id.
  await newcomer.fill("#direct-user", "dora");
  await newcomer.click("#direct-form button");
  await newcomer.waitForSelector('#room-title >> text=direct conversation');
  await send(newcomer, "hello dora");
  await owner.waitForSelector(`#rooms li[data-kind="direct"]`);
  await ownerContext.close();
  await newcomerContext.close();
});
