// One adapter per system under test. Each speaks the system's own client protocol over a raw
// `ws` socket, so the load generator costs the same per frame whatever it talks to.
//
// An adapter is created per client and offers:
//   url                       where to open the WebSocket
//   onText(text)              feeds every text frame received
//   async handshake()         connect + authenticate (resolves on the server's answer)
//   async join(room)          join / subscribe (resolves on the server's answer)
//   send(room, payload)       publish a JSON-serialisable payload, without waiting
// and calls hooks.message(payload) for every message of another client that reaches it.

import { createHmac } from "node:crypto";

export function hs256(claims, secret) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

class Pending {
  constructor() {
    this.next = 1;
    this.waiting = new Map();
  }
  open() {
    const id = this.next++;
    return { id, done: new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject })) };
  }
  settle(id, error, value) {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (error) w.reject(new Error(error));
    else w.resolve(value);
  }
}

/** Tidings: JSON over /v1/ws (docs/protocol.md). */
export class TidingsProtocol {
  constructor(opts, user, ws, hooks) {
    Object.assign(this, { opts, user, ws, hooks, pending: new Pending() });
  }
  static url(opts) {
    return `${opts.url.replace(/^http/, "ws")}/v1/ws`;
  }
  token() {
    const now = Math.floor(Date.now() / 1000);
    return hs256(
      { sub: this.user, aud: "tidings", iss: "tidings", iat: now, exp: now + 3600 },
      this.opts.secret,
    );
  }
  request(command, body) {
    const { id, done } = this.pending.open();
    this.ws.send(JSON.stringify({ id: String(id), [command]: body }));
    return done;
  }
  onText(text) {
    const frame = JSON.parse(text);
    if (frame.reply) {
      const err = frame.reply.error;
      const id = Number(frame.reply.id);
      if (err && !this.pending.waiting.has(id)) this.hooks.error(`${err.code}: ${err.message}`);
      this.pending.settle(id, err && `${err.code}: ${err.message}`, frame.reply);
      return;
    }
    const push = frame.push || {};
    if (push.ping) this.ws.send('{"pong":{}}');
    const event = push.event?.event || push.room?.event;
    const posted = event?.messagePosted;
    if (posted && event.actor.userId !== this.user) {
      this.hooks.message(JSON.parse(posted.text));
    }
  }
  handshake() {
    return this.request("connect", { token: this.token() });
  }
  join(room) {
    return this.request("join", { roomId: room });
  }
  follow(room) {
    return this.request("follow", { roomId: room });
  }
  send(room, payload) {
    const { id } = this.pending.open();
    this.pending.waiting.delete(id); // replies to sends are counted, not awaited
    this.ws.send(
      JSON.stringify({
        id: String(id),
        send: { roomId: room, clientMsgId: `${this.user}-${id}`, text: JSON.stringify(payload) },
      }),
    );
  }
}

/** Centrifugo v6: its JSON protocol over /connection/websocket (newline-batched frames). */
export class CentrifugoProtocol {
  constructor(opts, user, ws, hooks) {
    Object.assign(this, { opts, user, ws, hooks, pending: new Pending() });
  }
  static url(opts) {
    return `${opts.url.replace(/^http/, "ws")}/connection/websocket`;
  }
  request(method, body) {
    const { id, done } = this.pending.open();
    this.ws.send(JSON.stringify({ id, [method]: body }));
    return done;
  }
  onText(text) {
    for (const line of text.split("\n")) {
      if (!line) continue;
      const frame = JSON.parse(line);
      if (frame.id) {
        this.pending.settle(frame.id, frame.error && JSON.stringify(frame.error), frame);
      } else if (frame.push?.pub) {
        const data = frame.push.pub.data;
        if (data.u !== this.user) this.hooks.message(data);
      } else if (Object.keys(frame).length === 0) {
        this.ws.send("{}"); // ping -> pong
      }
    }
  }
  handshake() {
    const now = Math.floor(Date.now() / 1000);
    return this.request("connect", { token: hs256({ sub: this.user, exp: now + 3600 }, this.opts.secret) });
  }
  join(room) {
    return this.request("subscribe", { channel: `room:${room}` });
  }
  send(room, payload) {
    const { id } = this.pending.open();
    this.pending.waiting.delete(id);
    this.ws.send(JSON.stringify({ id, publish: { channel: `room:${room}`, data: payload } }));
  }
}

/** Node socket.io 4: Engine.IO v4 + Socket.IO v5 packets over the websocket transport. */
export class SocketIoProtocol {
  constructor(opts, user, ws, hooks) {
    Object.assign(this, { opts, user, ws, hooks, pending: new Pending(), opened: null });
    this.connected = new Promise((resolve, reject) => (this.opened = { resolve, reject }));
  }
  static url(opts) {
    return `${opts.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
  }
  emit(event, arg) {
    const { id, done } = this.pending.open();
    this.ws.send(`42${id}${JSON.stringify([event, arg])}`);
    return done;
  }
  onText(text) {
    if (text === "2") return this.ws.send("3"); // engine.io ping -> pong
    if (text.startsWith("0")) {
      const now = Math.floor(Date.now() / 1000);
      const token = hs256({ sub: this.user, exp: now + 3600 }, this.opts.secret);
      return this.ws.send(`40${JSON.stringify({ token })}`);
    }
    if (text.startsWith("40")) return this.opened.resolve();
    if (text.startsWith("44")) return this.opened.reject(new Error(text));
    if (text.startsWith("43")) {
      const at = text.indexOf("[");
      const [answer] = JSON.parse(text.slice(at));
      return this.pending.settle(Number(text.slice(2, at)), answer?.error, answer);
    }
    if (text.startsWith("42")) {
      const [event, data] = JSON.parse(text.slice(text.indexOf("[")));
      if (event === "msg" && data.u !== this.user) this.hooks.message(data);
    }
  }
  handshake() {
    return this.connected;
  }
  join(room) {
    return this.emit("join", room);
  }
  send(room, payload) {
    const { id } = this.pending.open();
    this.pending.waiting.delete(id);
    this.ws.send(`42${id}${JSON.stringify(["send", { room, data: payload }])}`);
  }
}

export const PROTOCOLS = {
  tidings: TidingsProtocol,
  centrifugo: CentrifugoProtocol,
  socketio: SocketIoProtocol,
};
