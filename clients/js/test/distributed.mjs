// Run by tests/e2e/test_js_client.py against a distributed stack (not part of `npm test`):
// a client on gateway 0 fails over to gateway 1 when gateway 0 is killed, and resumes exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { TidingsClient } from "../tidings.js";

const urls = process.env.TIDINGS_URLS.split(",");
const [aliceToken, bobToken] = [process.env.TIDINGS_TOKEN_ALICE, process.env.TIDINGS_TOKEN_BOB];
const gateway0 = Number(process.env.TIDINGS_KILL_PID);
const roomId = process.env.TIDINGS_ROOM;

async function nextMessage(c, author) {
  for (;;) {
    const e = await c.next();
    if (e.type === "event" && e.kind === "messagePosted" && e.actor === author) return e;
  }
}

test("a killed gateway's client fails over to another and resumes exactly", async () => {
  const bob = new TidingsClient(urls[0], { urls, token: bobToken, WebSocket, backoffInitial: 0.1, backoffMax: 1 });
  const alice = new TidingsClient(urls[1], { token: aliceToken, WebSocket });
  try {
    await bob.connect();
    await alice.connect();
    await alice.send(roomId, "before");
    await nextMessage(bob, "alice");
    const position = bob.position;
    process.kill(gateway0, "SIGKILL");
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push((await alice.send(roomId, `while down ${i}`)).eventId);
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await nextMessage(bob, "alice"));
    assert.deepEqual(got.map((e) => e.envelope.eventId), sent);
    assert.deepEqual(got.map((e) => e.position), [position + 1, position + 2, position + 3]);
    const during = await bob.send(roomId, "bob is back");
    assert.ok(during.eventId);
  } finally {
    bob.close();
    alice.close();
  }
});
