// Application events and namespaces through the JS SDK (docs/events.md, docs/namespaces.md):
// on(name) handlers get durable and volatile events; emit resolves with its acknowledgement.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { TidingsClient, TidingsError } from "../tidings.js";
import { startServer } from "./server.mjs";

const namespaces = join(mkdtempSync(join(tmpdir(), "tidings-ns-")), "namespaces.toml");
writeFileSync(namespaces, `
[namespaces.game]
[namespaces.game.events.move]
durable = true
schema = { type = "object", required = ["x"], properties = { x = { type = "integer" } } }
[namespaces.game.events."cursor.moved"]
durable = false
`);
const server = await startServer({ TIDINGS_NAMESPACES_FILE: namespaces });
after(() => server.stop());

const client = (user, options = {}, granted = []) =>
  new TidingsClient(server.url, { token: server.token(user, granted), WebSocket, backoffInitial: 0.1, backoffMax: 1, ...options });

function nextCall() {
  let resolve;
  const promise = new Promise((ok) => { resolve = ok; });
  return [promise, (value) => resolve(value)];
}

test("on(name) gets durable and volatile events; emit resolves with positions and counts", async () => {
  const alice = client("alice");
  const bob = client("bob");
  try {
    await alice.connect();
    const room = await alice.rest("POST", "/v1/rooms", { name: "board" });
    await alice.rest("POST", `/v1/rooms/${room.roomId}/members`, { userId: "bob" });
    await bob.connect();
    const [durable, gotDurable] = nextCall();
    bob.on("board.mark", gotDurable);
    const ack = await alice.emit("board.mark", { cell: [1, 2] }, { room: room.roomId });
    assert.equal(Number(ack.event.position), 4);
    const seen = await durable;
    assert.deepEqual(
      [seen.name, seen.payload, seen.sender, seen.position, seen.durable],
      ["board.mark", { cell: [1, 2] }, "alice", 4, true],
    );
    const [volatile, gotVolatile] = nextCall();
    bob.on("cursor", gotVolatile);
    await alice.emit("cursor", { x: 3 }, { room: room.roomId, volatile: true });
    const cursor = await volatile;
    assert.deepEqual([cursor.payload, cursor.durable, cursor.position], [{ x: 3 }, false, 0]);
    const again = await alice.emit("board.mark", {}, { room: room.roomId, clientEventId: ack.event.eventEmitted.clientEventId });
    assert.equal(again.duplicate, true);
  } finally {
    alice.close();
    bob.close();
  }
});

test("a namespace connection is refused without the grant and checks schemas", async () => {
  const refused = client("carol", { namespace: "game" });
  await assert.rejects(refused.connect(5), (error) => error instanceof TidingsError && error.code === "FORBIDDEN");
  refused.close();
  const carol = client("carol", { namespace: "game" }, ["game"]);
  try {
    await carol.connect();
    const room = await carol.rest("POST", "/v1/rooms", { name: "g", namespace: "game" });
    const moved = await carol.emit("move", { x: 1 }, { room: room.roomId });
    assert.equal(moved.event.namespace, "game");
    await assert.rejects(
      carol.emit("move", { x: "no" }, { room: room.roomId }),
      (error) => error instanceof TidingsError && error.code === "INVALID_ARGUMENT" && /schema/.test(error.message),
    );
    const cursor = await carol.emit("cursor.moved", { x: 1 }, { room: room.roomId });
    assert.equal(cursor.event, undefined); // the namespace makes it volatile
  } finally {
    carol.close();
  }
});
