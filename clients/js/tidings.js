// Tidings browser client: an ES module, no build step. Works in browsers and in Node
// (pass a WebSocket implementation). Same semantics as the Python SDK: reconnect with
// jittered exponential backoff, exact resume from the last inbox position (optionally
// persisted), REST gap filling beyond the catch-up limit, sends retried safely by clientMsgId.

// Connect refusals that retrying with the same token cannot change: a bad or expired token,
// a namespace the token does not grant (FORBIDDEN) or that does not exist (NOT_FOUND).
const FATAL = new Set(["UNAUTHORIZED", "TOKEN_EXPIRED", "FORBIDDEN", "NOT_FOUND"]);

export class TidingsError extends Error {
  constructor(code, message, temporary = false, retryAfterMs = 0) {
    super(`${code}: ${message}`);
    this.code = code;
    this.temporary = temporary;
    this.retryAfterMs = retryAfterMs; // RATE_LIMITED: how long to wait before retrying
  }
}

class Disconnected extends Error {}

/** A position store that keeps nothing (the default). */
export const memoryStore = () => {
  let saved = null;
  return { load: () => saved, save: (p) => { saved = p; } };
};

/** A position store in localStorage (browsers). */
export const localStorageStore = (key) => ({
  load: () => JSON.parse(globalThis.localStorage.getItem(key) || "null"),
  save: (p) => globalThis.localStorage.setItem(key, JSON.stringify(p)),
});

const RESERVED = new Set(["event", "presence", "typing", "state", "app"]);

export class TidingsClient {
  constructor(url, options = {}) {
    if (!options.token && !options.tokenProvider) throw new Error("give a token or a tokenProvider");
    this.url = url;
    // Gateways to try, in turn, when a connection fails (any gateway can resume a client).
    this.urls = options.urls && options.urls.length ? options.urls : [url];
    this._urlIndex = 0;
    this._httpUrl = options.httpUrl || null;
    this.token = options.token;
    this.tokenProvider = options.tokenProvider;
    this.deviceId = options.deviceId || `js-${Math.random().toString(36).slice(2, 12)}`;
    /** The namespace the connection works in (the token must grant it; docs/namespaces.md). */
    this.namespace = options.namespace || "";
    this.store = options.store || memoryStore();
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.backoff = [options.backoffInitial ?? 0.2, options.backoffMax ?? 10];
    // After an established connection drops, the first attempt waits a random time within
    // this many seconds, so the clients of a crashed gateway do not all return at once.
    this.reconnectSpread = options.reconnectSpread ?? 3;
    const saved = this.store.load();
    this.position = saved ? Number(saved.position) : null;
    this.epoch = saved ? saved.epoch : "";
    // Followed room streams (channels, large rooms): roomId -> [room position, epoch].
    this.rooms = new Map(Object.entries((saved && saved.rooms) || {}));
    this._emitted = new Map();
    this.state = "idle";
    this.userId = "";
    this._handlers = new Map();
    // Events wait here for next() / for await, at most maxQueued of them: an application
    // that only uses on() (the web page) never reads them, and one that iterates too slowly
    // loses the oldest rather than all of its memory.
    this._queue = [];
    this.maxQueued = options.maxQueued ?? 1000;
    this._waiters = [];
    this._pending = new Map();
    this._nextId = 1;
    this._ready = null;
    this._isReady = false;
    this._readyResolve = null;
    this._closed = false;
    this._ws = null;
    this._endSession = null; // ends the current session at once (dropConnection)
    this._fatal = null;
    this._silenceMs = 0; // heartbeat interval + timeout, from the connect reply
    this._watchdog = null;
    this._resetReady();
  }

  /** The REST base URL: the one given, or that of the gateway currently in use. */
  get httpUrl() {
    if (this._httpUrl) return this._httpUrl;
    return this.urls[this._urlIndex % this.urls.length].replace(/^ws/, "http").replace(/\/v1\/ws$/, "");
  }

  /** Subscribe: "event" (inbox events), "presence", "typing", "state", "app" (every
   * application event), or an application event's name ("cursor.moved": its events, durable
   * or volatile, as { name, payload, roomId, sender, position, durable }). */
  on(type, handler) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(handler);
    return () => this._handlers.get(type).delete(handler);
  }

  async connect(timeout = 30) {
    this._closed = false;
    this._loop();
    await this._waitReady(timeout);
  }

  close() {
    this._closed = true;
    if (this._ws) this._ws.close(1000);
  }

  /** Drops the connection now, as a network failure would (the client then reconnects and
   * resumes); the session ends at once, without waiting for the closing handshake, which
   * never completes when the network is gone. */
  dropConnection() {
    if (this._ws) this._ws.close(4999, "dropped by client");
    if (this._endSession) this._endSession();
  }

  async *[Symbol.asyncIterator]() {
    while (true) yield await this.next();
  }

  next() {
    if (this._queue.length) return Promise.resolve(this._queue.shift());
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  // ---------------------------------------------------------------- commands

  async send(roomId, text, { clientMsgId, timeout = 60 } = {}) {
    const body = { roomId, clientMsgId: clientMsgId || randomId(), text };
    return (await this._retrying("send", body, timeout)).event;
  }
  join(roomId) { return this.request("join", { roomId }); }
  leave(roomId) { return this.request("leave", { roomId }); }
  edit(roomId, messageId, text) { return this.request("edit", { roomId, messageId, text }); }
  delete(roomId, messageId) { return this.request("delete", { roomId, messageId }); }
  ack(roomId, upTo, { read = true } = {}) {
    const kind = read ? "ACK_KIND_READ" : "ACK_KIND_DELIVERED";
    return this._retrying("ack", { roomId, kind, upTo: String(upTo) }, 30);
  }
  typing(roomId, typing = true) { return this.request("typing", { roomId, typing }); }

  /** Emits an application event to a room or a user; resolves to its acknowledgement:
   * { event } (durable: the logged event, with its room position), { delivered } (volatile:
   * recipients online), plus { answer } or { handlerError } when a server plugin handles the
   * name. Durable events are retried until acknowledged, exactly once (a client event id);
   * rejects with a timeout error after `timeout` seconds, like Socket.IO's emitWithAck. */
  async emit(name, payload = null, { room, user, volatile = false, clientEventId, timeout = 10 } = {}) {
    const body = { name, payload, volatile };
    if (room) body.roomId = room;
    if (user) body.userId = user;
    if (volatile) return this.request("emit", body, timeout);
    body.clientEventId = clientEventId || randomId();
    return this._retrying("emit", body, timeout);
  }
  setPresence(status) {
    return this.request("presence", { status: `PRESENCE_STATUS_${status.toUpperCase()}` });
  }
  /** Follows a room stream from a room position (or its head); done by itself for rooms
   * the inbox announces, and again after each reconnect. */
  async follow(roomId, position = null, epoch = "") {
    const body = { roomId };
    if (position !== null) {
      Object.assign(body, { position: String(position), epoch });
      this.rooms.set(roomId, [position, epoch]);
    }
    const result = await this.request("follow", body);
    const recovery = result.recovery || "";
    const head = Number((result.position || {}).position || 0);
    const streamEpoch = (result.position || {}).epoch || "";
    if (recovery === "RECOVERY_TOO_FAR_BEHIND" && position !== null) {
      await this.request("unfollow", { roomId });
      let after = position;
      while (after < head) {
        const page = await this.rest("GET", `/v1/rooms/${roomId}/stream?after=${after}&limit=200`);
        if (!page.events.length) break;
        for (const item of page.events) this._deliverRoomEvent({ epoch: item.epoch, event: item.event });
        after = Number(page.events[page.events.length - 1].position);
      }
      return this.follow(roomId, after, streamEpoch);
    }
    if (recovery === "RECOVERY_EPOCH_CHANGED" || recovery === "RECOVERY_FUTURE_POSITION") {
      this._setState("not_recovered", recovery);
    }
    const current = this.rooms.get(roomId);
    if (!current || current[1] !== streamEpoch || current[0] < head) this._track(roomId, head, streamEpoch);
  }
  async unfollow(roomId) {
    this.rooms.delete(roomId);
    this._save();
    return this.request("unfollow", { roomId });
  }
  async history(roomId, { before, limit = 50 } = {}) {
    const body = { roomId, limit };
    if (before !== undefined && before !== null) body.before = String(before);
    const result = await this._retrying("history", body, 30);
    return { messages: result.messages || [], hasMore: Boolean(result.hasMore) };
  }

  /** A REST call with this client's token, e.g. rest("GET", "/v1/rooms"). */
  async rest(method, path, body) {
    const response = await this.fetch(this.httpUrl + path, {
      method,
      headers: { authorization: `Bearer ${await this._currentToken()}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const { code, message, temporary, retryAfterMs } = data.error;
      throw new TidingsError(code, message, temporary, retryAfterMs || 0);
    }
    return data;
  }

  async request(command, body, timeout = 15) {
    await this._waitReady(timeout);
    const id = String(this._nextId++);
    const reply = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this._pending.delete(id); reject(new Disconnected("timeout")); }, timeout * 1000);
      this._pending.set(id, { resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      try {
        this._ws.send(JSON.stringify({ id, [command]: body }));
      } catch (error) {
        this._pending.delete(id);
        clearTimeout(timer);
        reject(new Disconnected(String(error)));
      }
    });
    if (reply.error) {
      const { code, message, temporary, retryAfterMs } = reply.error;
      throw new TidingsError(code, message, temporary, retryAfterMs || 0);
    }
    return reply[command] || {};
  }

  async _retrying(command, body, timeout) {
    const deadline = Date.now() + timeout * 1000;
    for (let attempt = 0; ; attempt++) {
      let wait = 0;
      try {
        return await this.request(command, body, Math.max((deadline - Date.now()) / 1000, 0.1));
      } catch (error) {
        if (error instanceof TidingsError && !error.temporary) throw error;
        if (error instanceof TidingsError) wait = error.retryAfterMs / 1000;
      }
      if (Date.now() > deadline) throw new Error(`${command} did not succeed within ${timeout} s`);
      await sleep(Math.max(wait, this._delay(attempt)));
    }
  }

  // ---------------------------------------------------------------- the connection loop

  _delay(attempt) {
    const [initial, ceiling] = this.backoff;
    return Math.min(ceiling, initial * 2 ** attempt) * (0.5 + Math.random() / 2);
  }

  /** Starts a "not ready" period; waiters keep the same promise until a session is up. */
  _resetReady() {
    if (this._ready && !this._isReady) return;
    this._isReady = false;
    this._ready = new Promise((resolve) => {
      this._readyResolve = () => { this._isReady = true; resolve(); };
    });
  }

  async _waitReady(timeout) {
    if (this._fatal) throw this._fatal;
    let timer;
    const expired = new Promise((_, reject) => { timer = setTimeout(() => reject(new Disconnected("not connected")), timeout * 1000); });
    try {
      await Promise.race([this._ready, expired]);
    } finally {
      clearTimeout(timer);
    }
    if (this._fatal) throw this._fatal;
  }

  async _loop() {
    for (let attempt = 0; !this._closed; ) {
      let established = false;
      try {
        await this._session();
        established = true;
      } catch (error) {
        if (error instanceof TidingsError && FATAL.has(error.code) && !this.tokenProvider) {
          this._fatal = error;
          this._readyResolve();
          return;
        }
      }
      this._urlIndex += 1; // gateways are stateless: try the next one
      this._resetReady();
      for (const { reject } of this._pending.values()) reject(new Disconnected("disconnected"));
      this._pending.clear();
      if (this._closed) return;
      this._setState("reconnecting");
      if (established) {
        attempt = 0;
        await sleep(Math.random() * this.reconnectSpread);
      } else {
        await sleep(this._delay(attempt++));
      }
    }
  }

  _session() {
    return new Promise((resolve, reject) => {
      const ws = new this.WebSocket(this.urls[this._urlIndex % this.urls.length]);
      this._ws = ws;
      let connected = false;
      ws.onopen = async () => ws.send(JSON.stringify(this._connectFrame(await this._currentToken())));
      ws.onmessage = async (message) => {
        this._heard();
        const frame = JSON.parse(typeof message.data === "string" ? message.data : message.data.toString());
        if (!connected && frame.reply && frame.reply.id === "connect") {
          if (frame.reply.error) {
            reject(new TidingsError(frame.reply.error.code, frame.reply.error.message));
            ws.close();
            return;
          }
          connected = true;
          const { heartbeatIntervalMs = 0, heartbeatTimeoutMs = 0 } = frame.reply.connect;
          this._silenceMs = heartbeatIntervalMs + heartbeatTimeoutMs;
          this._heard();
          this._paused = [];
          await this._recovered(frame.reply.connect);
          this._readyResolve();
          const paused = this._paused;
          this._paused = null;
          for (const f of paused) this._handle(f);
          this._refollow();
          return;
        }
        if (this._paused) this._paused.push(frame);
        else this._handle(frame);
      };
      ws.onerror = () => {};
      const end = () => {
        clearTimeout(this._watchdog);
        ws.onmessage = ws.onclose = null; // a socket being dropped says nothing more
        this._endSession = null;
        if (connected) resolve();
        else reject(new Disconnected("closed"));
      };
      this._endSession = end;
      ws.onclose = end;
    });
  }

  /** The server pings every heartbeat interval: a connection silent for longer than the
   * interval plus the timeout is gone (a network that vanished closes no socket), so it is
   * dropped and the client reconnects. */
  _heard() {
    clearTimeout(this._watchdog);
    if (this._silenceMs > 0) {
      this._watchdog = setTimeout(() => this.dropConnection(), this._silenceMs);
      this._watchdog.unref?.(); // in Node, a watchdog alone keeps no process alive
    }
  }

  /** The first frame: resumes from the saved inbox position when there is one. */
  _connectFrame(token) {
    const body = { token, deviceId: this.deviceId };
    if (this.namespace) body.namespace = this.namespace;
    if (this.position !== null) body.inbox = { position: String(this.position), epoch: this.epoch };
    return { id: "connect", connect: body };
  }

  /** Follows again, from where it stopped, every room stream followed before. */
  _refollow() {
    for (const [roomId, [position, epoch]] of this.rooms) {
      this.follow(roomId, position, epoch).catch(() => {}); // a reconnect retries
    }
  }

  async _recovered(result) {
    this.userId = result.userId;
    const recovery = result.recovery || "";
    const head = Number(result.inbox.position || 0);
    if (recovery === "RECOVERY_RECOVERED") return this._setState("resumed", recovery);
    if (recovery === "RECOVERY_TOO_FAR_BEHIND" && this.position !== null) {
      await this._pageInbox(this.position, head);
      return this._setState("resumed", recovery);
    }
    const notRecovered = recovery === "RECOVERY_EPOCH_CHANGED" || recovery === "RECOVERY_FUTURE_POSITION";
    this._advance(head, result.inbox.epoch);
    this._setState(notRecovered ? "not_recovered" : "connected", recovery);
  }

  async _pageInbox(after, head) {
    while (after < head) {
      const page = await this.rest("GET", `/v1/inbox?after=${after}&limit=200`);
      if (!page.events.length) break;
      for (const item of page.events) this._deliverEvent(item);
      after = page.events[page.events.length - 1].position;
    }
  }

  _handle(frame) {
    if (frame.reply) {
      const pending = this._pending.get(frame.reply.id);
      if (pending) { this._pending.delete(frame.reply.id); pending.resolve(frame.reply); }
      return;
    }
    const push = frame.push || {};
    if (push.event) this._deliverEvent(push.event);
    else if (push.room) this._deliverRoomEvent(push.room);
    else if (push.ping) this._ws.send('{"pong":{}}');
    else if (push.presence) this._emit("presence", { online: false, ...push.presence });
    else if (push.typing) this._emit("typing", { typing: false, ...push.typing });
    else if (push.app) {
      const a = push.app;
      this._emitApp({ name: a.name, payload: a.payload ?? null, roomId: a.roomId || "", sender: a.userId, position: 0, durable: false });
    }
  }

  /** An application event: to on("app") (and the iteration), then to on(its name). */
  _emitApp(app) {
    this._emit("app", app);
    if (RESERVED.has(app.name)) return; // only on("app") sees events named like a built-in type
    for (const handler of this._handlers.get(app.name) || []) {
      try { handler({ type: "app", ...app }); } catch (error) { console.error(error); }
    }
  }

  _deliverEvent(push) {
    const position = Number(push.position);
    if (this.position !== null && position <= this.position) return; // already seen
    this._advance(position, push.epoch);
    const event = parseEvent(position, push.epoch, push.event);
    this._emitOnce(event, false);
    // The inbox says when to follow a room stream: the room moved to it, or you joined one.
    const me = event.payload.userId === this.userId;
    if (event.kind === "roomStreamStarted" || (event.kind === "memberJoined" && me)) {
      if (!this.rooms.has(event.roomId)) {
        this.follow(event.roomId, event.roomPosition, push.epoch).catch(() => {}); // small rooms refuse
      }
    } else if (event.kind === "memberLeft" && me) {
      this.rooms.delete(event.roomId);
      this._save();
    }
  }

  /** One event of a followed room stream: ``position`` is its room position. */
  _deliverRoomEvent(push) {
    // Room pushes leave out what the push implies (docs/protocol.md): restore it.
    const envelope = push.event;
    const kind = payloadKind(envelope);
    const payload = envelope[kind];
    if (payload.roomId === undefined) payload.roomId = String(envelope.stream || "").replace(/^room:/, "");
    if (kind === "messagePosted" && payload.messageId === undefined) payload.messageId = envelope.eventId;
    const event = parseEvent(Number(envelope.position || 0), push.epoch, envelope);
    event.stream = "room";
    this._track(event.roomId, event.position, push.epoch);
    this._emitOnce(event, true);
  }

  /** A followed room's event may come in the inbox (what concerns you) and its stream. */
  _emitOnce(event, fromStream) {
    if (fromStream || this.rooms.has(event.roomId)) {
      if (event.roomPosition <= (this._emitted.get(event.roomId) || 0)) return;
      this._emitted.set(event.roomId, event.roomPosition);
    }
    this._emit("event", event);
    if (event.kind === "eventEmitted") {
      const p = event.payload;
      this._emitApp({ name: p.name, payload: p.payload ?? null, roomId: event.roomId, sender: event.actor, position: event.roomPosition, durable: true });
    }
  }

  _track(roomId, position, epoch) {
    this.rooms.set(roomId, [position, epoch]);
    this._save();
  }

  _advance(position, epoch) {
    this.position = position;
    this.epoch = epoch;
    this._save();
  }

  _save() {
    this.store.save({ position: this.position, epoch: this.epoch, rooms: Object.fromEntries(this.rooms) });
  }

  _setState(state, recovery = "") {
    this.state = state;
    this._emit("state", { state, recovery });
  }

  _emit(type, detail) {
    const item = { type, ...detail };
    for (const handler of this._handlers.get(type) || []) handler(item);
    if (this._waiters.length) this._waiters.shift()(item);
    else {
      this._queue.push(item);
      if (this._queue.length > this.maxQueued) this._queue.shift();
    }
  }

  async _currentToken() {
    return this.tokenProvider ? await this.tokenProvider() : this.token;
  }
}

function randomId() {
  return globalThis.crypto && globalThis.crypto.randomUUID ? globalThis.crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/** The name of an envelope's payload field ("messagePosted", ...). */
function payloadKind(envelope) {
  return Object.keys(envelope).find((k) => typeof envelope[k] === "object" && !["actor", "occurredAt"].includes(k));
}

function parseEvent(position, epoch, envelope) {
  const kind = payloadKind(envelope);
  const payload = envelope[kind];
  return {
    position, epoch, kind, roomId: payload.roomId || "", actor: (envelope.actor || {}).userId || "",
    payload, envelope, roomPosition: Number(envelope.position || 0), stream: "inbox",
  };
}
