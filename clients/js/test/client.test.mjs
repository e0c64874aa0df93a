import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { TidingsClient, memoryStore } from "../tidings.js";
import { startServer } from "./server.mjs";

const server = await startServer();
after(() => server.stop());

const client = (user, options = {}) =>
  new TidingsClient(server.url, { token: server.token(user), WebSocket, backoffInitial: 0.1, backoffMax: 1, ...options });

async function nextMessage(c, author) {
  for (;;) {
    const e = await c.next();
    if (e.type === "event" && e.kind === "messagePosted" && (!author || e.actor === author)) return e;
  }
}

async function nextState(c) {
  for (;;) {
    const e = await c.next();
    if (e.type === "state" && e.state !== "reconnecting") return e;
  }
}

test("two clients chat, page history and resume exactly after reconnecting", async () => {
  const alice = client("alice");
  await alice.connect();
  const room = await alice.rest("POST", "/v1/rooms", { name: "js" });
  await alice.rest("POST", `/v1/rooms/${room.roomId}/members`, { userId: "bob" });
  const store = memoryStore();
  const bob = client("bob", { store });
  await bob.connect();
  const sent = await alice.send(room.roomId, "hi bob");
  const got = await nextMessage(bob, "alice");
  assert.equal(got.envelope.eventId, sent.eventId);
  assert.equal(got.payload.text, "hi bob");
  const { messages } = await bob.history(room.roomId);
  assert.deepEqual(messages.map((m) => m.text), ["hi bob"]);
  bob.close();

  const missed = [];
  for (let i = 0; i < 3; i++) missed.push((await alice.send(room.roomId, `missed ${i}`)).eventId);
  const again = client("bob", { store });
  await again.connect();
  assert.equal((await nextState(again)).state, "resumed");
  const recovered = [];
  for (let i = 0; i < 3; i++) recovered.push((await nextMessage(again, "alice")).envelope.eventId);
  assert.deepEqual(recovered, missed);
  again.close();
  alice.close();
});

test("the client reconnects and resumes on its own after the server is killed", async () => {
  const alice = client("carol");
  try {
    await alice.connect();
    assert.equal((await nextState(alice)).state, "connected");
    const room = await alice.rest("POST", "/v1/rooms", { name: "crash" });
    await alice.send(room.roomId, "before");
    server.kill();
    const during = alice.send(room.roomId, "during", { timeout: 60 });
    await new Promise((r) => setTimeout(r, 500));
    await server.restart();
    const event = await during;
    assert.equal((await nextState(alice)).state, "resumed");
    const { messages } = await alice.history(room.roomId);
    assert.deepEqual(messages.map((m) => m.text), ["before", "during"]);
    assert.equal(messages[1].messageId, event.eventId);
  } finally {
    alice.close();
  }
});
