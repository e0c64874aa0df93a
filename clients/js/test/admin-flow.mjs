// The admin web UI's operator flow, shared by the embedded test (admin.test.mjs) and the
// distributed one (admin-distributed.mjs, run by tests/e2e/test_admin_ui.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { TidingsClient } from "../tidings.js";

function rawConnection(url, token) {
  // A bare socket, to see the close code the server sends.
  return new Promise((ok, fail) => {
    const ws = new WebSocket(url);
    ws.on("open", () => ws.send(JSON.stringify({ id: "1", connect: { token, deviceId: "laptop" } })));
    ws.on("message", (data) => { if (JSON.parse(data).reply?.connect) ok(ws); });
    ws.on("error", fail);
  });
}

/** Signs in at `http`/admin with `key`, finds a room, watches a message arrive live, publishes
 * one, answers a receipts question and disconnects a user. `wsUrls`: gateways users connect
 * to (the disconnected user is on the last); `token(user)`: a user token; `processes`: how
 * many serving processes the overview must list. */
export async function operatorFlow({ browser, http, wsUrls, key, token, processes, shots, prefix }) {
  const user = (name, url) => new TidingsClient(url, { token: token(name), WebSocket, backoffInitial: 0.1, backoffMax: 1 });
  const alice = user("alice", wsUrls[0]);
  const bob = user("bob", wsUrls[wsUrls.length - 1]);
  try {
    await alice.connect();
    await bob.connect();
    await steps({ browser, http, wsUrls, key, token, processes, shots, prefix, alice, bob });
  } finally {
    alice.close(); // open sockets would keep the test process alive after a failure
    bob.close();
  }
}

async function steps({ browser, http, wsUrls, key, token, processes, shots, prefix, alice, bob }) {
  const room = await alice.rest("POST", "/v1/rooms", { name: `support-desk-${prefix}` });
  await alice.rest("POST", `/v1/rooms/${room.roomId}/members`, { userId: "bob" });

  const page = await (await browser.newContext()).newPage();
  await page.goto(http + "/admin");
  await page.fill("#key", key);
  await page.click("#signin button");
  await page.waitForSelector("#console:not([hidden])");
  await page.waitForSelector('#numbers dd[data-name="mode"]');
  await page.waitForSelector(`#processes tr:nth-child(${processes})`, { timeout: 30000 });
  await page.screenshot({ path: join(shots, `admin-${prefix}-1-overview.png`) });

  await page.fill("#q", `support-desk-${prefix}`);
  await page.click("#search button");
  await page.click(`#rooms li[data-room-id="${room.roomId}"]`);
  await page.waitForSelector(`#room-title[data-room-id="${room.roomId}"]`);
  // Filled after the title; presence is refreshed every few seconds, and both are connected.
  await page.waitForSelector('#members:has-text("bob (member, online)")', { timeout: 30000 });
  assert.match(await page.textContent("#members"), /alice \(owner, online\).*bob \(member, online\)/);

  const sent = await alice.send(room.roomId, "printer on fire");
  await page.waitForSelector("#tail li >> text=alice: printer on fire", { timeout: 30000 });
  await page.fill("#publish-text", "an engineer is on the way");
  await page.click("#publish button");
  await page.waitForSelector("#tail li >> text=system: an engineer is on the way", { timeout: 30000 });
  const { messages } = await bob.history(room.roomId);
  assert.ok(messages.some((m) => m.authorId === "system" && m.text === "an engineer is on the way"));
  await page.screenshot({ path: join(shots, `admin-${prefix}-2-room-live.png`) });

  // The export downloads the room's log as JSON lines, the published message among them.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  assert.equal(download.suggestedFilename(), `room-${room.roomId}.jsonl`);
  const exported = readFileSync(await download.path(), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(exported.some((e) => JSON.stringify(e).includes("an engineer is on the way")), "export lacks the post");

  // bob reads alice's message; the audit answers who received and read it.
  await bob.ack(room.roomId, sent.position, { read: true });
  await page.click(`#tail li[data-message-id="${sent.eventId}"]`);
  for (let attempt = 0; ; attempt++) {
    await page.click("#receipts-form button");
    await page.waitForSelector("#audit-answer:not(:empty)", { timeout: 60000 });
    const answer = JSON.parse(await page.textContent("#audit-answer"));
    if (JSON.stringify(answer).includes("bob")) break;
    assert.ok(attempt < 50, "the receipt never showed");
    await page.evaluate(() => { document.querySelector("#audit-answer").textContent = ""; });
  }
  await page.screenshot({ path: join(shots, `admin-${prefix}-3-receipts.png`) });
  // The room as it was at its first position: created, alice its only member.
  await page.evaluate(() => { document.querySelector("#audit-answer").textContent = ""; });
  await page.fill("#asof-position", "2");
  await page.click("#asof-form button");
  await page.waitForSelector("#audit-answer:not(:empty)");
  const asOf = JSON.parse(await page.textContent("#audit-answer"));
  assert.deepEqual(asOf.members, [{ userId: "alice", role: "owner" }]);

  // Disconnect mallory (on the last gateway): her socket closes with 4006.
  const mallory = await rawConnection(wsUrls[wsUrls.length - 1], token("mallory"));
  const closed = new Promise((ok) => mallory.on("close", (code) => ok(code)));
  await page.fill("#session-user", "mallory");
  await page.click("#disconnect");
  assert.equal(await closed, 4006);
  await page.waitForSelector("#session-result >> text=disconnect: mallory done");
  await page.screenshot({ path: join(shots, `admin-${prefix}-4-disconnect.png`) });
}
