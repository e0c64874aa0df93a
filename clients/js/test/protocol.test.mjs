// The JS SDK against the shared protocol cases (clients/fixtures/protocol.json), which the
// Python SDK's protocol core runs too: frames in, emitted events, frames sent, follows and
// saved positions out. No server: the socket and follow() are stand-ins that record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TidingsClient, memoryStore } from "../tidings.js";

const cases = JSON.parse(readFileSync(new URL("../../fixtures/protocol.json", import.meta.url)));

function clientIn(state) {
  const store = memoryStore();
  store.save({ position: state.position, epoch: state.epoch, rooms: state.rooms });
  const client = new TidingsClient("ws://127.0.0.1:1/v1/ws", { token: "T", deviceId: "D", store });
  if (state.position === null) client.position = null;
  client.userId = state.userId || "";
  const record = { emitted: [], sent: [], follows: [], pages: [] };
  for (const type of ["event", "presence", "typing", "state"]) client.on(type, (e) => record.emitted.push(e));
  client._ws = { send: (frame) => record.sent.push(JSON.parse(frame)) };
  client.follow = async (roomId, position, epoch) => { record.follows.push({ roomId, position, epoch }); };
  client._pageInbox = async (after, head) => { record.pages.push({ after, head }); };
  const positions = () => ({ position: client.position, epoch: client.epoch, rooms: Object.fromEntries(client.rooms) });
  return { client, record, positions };
}

const shown = (e) => {
  if (e.type === "event") return { type: e.type, kind: e.kind, roomId: e.roomId, roomPosition: e.roomPosition, position: e.position };
  if (e.type === "presence") return { type: e.type, userId: e.userId, status: e.status, online: e.online };
  return { type: e.type, roomId: e.roomId, userId: e.userId, typing: e.typing };
};

for (const c of cases.pushes) {
  test(`pushes: ${c.name}`, () => {
    const { client, record, positions } = clientIn(c.state);
    for (const frame of c.frames) client._handle(frame);
    assert.deepEqual(record.emitted.map(shown), c.expect.emitted);
    assert.deepEqual(record.sent, c.expect.sent);
    assert.deepEqual(record.follows, c.expect.follows);
    assert.deepEqual(positions(), c.expect.positions);
  });
}

for (const c of cases.connects) {
  test(`connects: ${c.name}`, async () => {
    const { client, record, positions } = clientIn(c.state);
    assert.deepEqual(client._connectFrame("T"), c.connectFrame);
    await client._recovered(c.reply.connect);
    client._refollow();
    assert.deepEqual(record.emitted.filter((e) => e.type === "state").map((e) => e.state), c.expect.connection);
    assert.deepEqual(record.pages, c.expect.pageInbox ? [c.expect.pageInbox] : []);
    assert.deepEqual(record.follows, c.expect.follows);
    assert.deepEqual(positions(), c.expect.positions);
  });
}

const typing = (client, i) => client._handle({ push: { typing: { roomId: "r", userId: `u${i}`, typing: true } } });

test("events wait for next(), at most maxQueued of them (an on()-only page never reads them)", async () => {
  const { client } = clientIn({ position: 0, epoch: "e", rooms: {} }); // subscribed with on()
  client.maxQueued = 2;
  typing(client, 1);
  assert.equal((await client.next()).userId, "u1");
  for (const i of [2, 3, 4]) typing(client, i);
  assert.deepEqual(client._queue.map((e) => e.userId), ["u3", "u4"]);
});
