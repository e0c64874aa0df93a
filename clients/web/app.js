// The Tidings demo chat page, built on the JS client (clients/js/tidings.js).
import { TidingsClient, localStorageStore } from "/client/tidings.js";

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
const app = { client: null, user: "", room: null, oldest: null, receipts: new Map(), typingTimers: new Map() };
window.tidingsApp = app;

const REFUSED = new Set(["UNAUTHORIZED", "TOKEN_EXPIRED"]);

async function devToken(user) {
  const response = await fetch("/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: user }) });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message || `sign-in failed (${response.status})`);
  return body.token;
}

// Signs in with the cached token; one the server refuses (expired, or from another data
// directory) is dropped and a fresh one fetched once; any other failure shows on the form.
async function signIn(user, retried = false) {
  $("login-error").textContent = "";
  try {
    let token = localStorage.getItem(`tidings.token.${user}`);
    if (!token) {
      token = await devToken(user);
      localStorage.setItem(`tidings.token.${user}`, token);
    }
    await start(user, token);
  } catch (error) {
    app.client?.close();
    $("login").hidden = false;
    $("chat").hidden = true;
    localStorage.removeItem("tidings.user");
    if (REFUSED.has(error.code)) {
      localStorage.removeItem(`tidings.token.${user}`);
      if (!retried) return signIn(user, true);
    }
    $("login-error").textContent = `Could not sign in as "${user.slice(0, 40)}": ${error.message}`;
  }
}

async function start(user, token) {
  localStorage.setItem("tidings.user", user);
  app.user = user;
  $("me").textContent = user;
  $("login").hidden = true;
  $("chat").hidden = false;
  const client = new TidingsClient(wsUrl, { token, store: localStorageStore(`tidings.position.${user}`), backoffInitial: 0.2, backoffMax: 3 });
  app.client = client;
  client.on("state", ({ state }) => {
    $("state").textContent = state.replace("_", " ");
    $("state").dataset.state = state;
    $("notice").hidden = state !== "not_recovered";
    $("notice").textContent = state === "not_recovered"
      ? "You were away longer than the server replays: recent messages are loaded from history, "
        + "but some notifications (receipts, edits) may be missing. Reopen a room to refresh it."
      : "";
    if (state !== "reconnecting") refreshRooms().catch(() => {}); // again at the next state
  });
  client.on("event", onEvent);
  client.on("typing", onTyping);
  client.on("presence", () => app.room && loadPresence());
  await client.connect(); // a refused token ends here, in signIn's catch
  // What follows reads over REST: a network failing meanwhile is no reason to sign out (the
  // client reconnects, and the rooms are read again at each reconnect).
  searchDirectory("").catch(() => {});
  const last = localStorage.getItem(`tidings.room.${user}`);
  if (last) openRoom(last).catch(() => {});
}

async function refreshRooms() {
  const rooms = await app.client.rest("GET", "/v1/rooms");
  // Channels and large rooms are room streams: follow those not followed yet (the client
  // follows by itself the ones its inbox announces, and re-follows after reconnects).
  for (const room of rooms) {
    if (room.streamedSince > 0 && !app.client.rooms.has(room.roomId)) {
      app.client.follow(room.roomId).catch(() => {});
    }
  }
  $("rooms").replaceChildren(...rooms.map((room) => {
    const li = document.createElement("li");
    li.dataset.roomId = room.roomId;
    li.dataset.kind = room.kind;
    li.textContent = (room.kind === "channel" ? "# " : "") + (room.name || "direct");
    if (room.unread && room.roomId !== app.room) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = room.unread;
      li.append(badge);
    }
    li.classList.toggle("current", room.roomId === app.room);
    li.onclick = () => openRoom(room.roomId);
    return li;
  }));
}

async function openRoom(roomId) {
  app.room = roomId;
  localStorage.setItem(`tidings.room.${app.user}`, roomId);
  $("timeline").replaceChildren();
  app.receipts.clear();
  const room = await app.client.rest("GET", `/v1/rooms/${roomId}`);
  $("room-title").textContent = (room.kind === "channel" ? "# " : "") + (room.name || "direct conversation");
  $("room-title").dataset.roomId = roomId;
  $("room-title").dataset.kind = room.kind;
  $("room-id").textContent = roomId;
  $("room-id-line").hidden = false;
  // In a channel everybody reads and only admins and owners post.
  const reader = room.kind === "channel" && room.role === "member";
  $("composer").disabled = reader;
  $("composer").placeholder = reader ? "only admins post in this channel" : "message";
  const { messages, hasMore } = await app.client.history(roomId, { limit: 30 });
  messages.forEach((m) => render(m));
  $("empty").hidden = messages.length > 0;
  scrollToBottom();
  app.oldest = messages.length ? Number(messages[0].position) : null;
  $("older").hidden = !hasMore;
  await markRead();
  await loadPresence();
  await refreshRooms();
}

async function loadOlder() {
  const { messages, hasMore } = await app.client.history(app.room, { before: app.oldest, limit: 30 });
  messages.reverse().forEach((m) => render(m, true));
  if (messages.length) app.oldest = Number(messages[messages.length - 1].position);
  $("older").hidden = !hasMore;
}

function render(message, prepend = false) {
  let li = document.querySelector(`#timeline li[data-message-id="${message.messageId}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.messageId = message.messageId;
    li.dataset.position = message.position;
    li.innerHTML = '<time></time><span class="author"></span><span class="text"></span> <span class="actions"></span> <div class="receipts"></div>';
    li.querySelector(".author").textContent = message.authorId;
    const at = message.postedAt ? new Date(message.postedAt) : new Date();
    li.querySelector("time").dateTime = at.toISOString();
    li.querySelector("time").textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (message.authorId === app.user) {
      const edit = Object.assign(document.createElement("button"), { textContent: "edit", className: "edit" });
      edit.onclick = async () => { const text = prompt("Edit message", li.querySelector(".text").textContent); if (text) await app.client.edit(app.room, message.messageId, text); };
      const del = Object.assign(document.createElement("button"), { textContent: "delete", className: "delete" });
      del.onclick = () => app.client.delete(app.room, message.messageId);
      li.querySelector(".actions").append(edit, del);
    }
    const items = [...$("timeline").querySelectorAll("li:not(.pending)")];
    const after = items.find((x) => Number(x.dataset.position) > Number(message.position));
    const atBottom = nearBottom();
    if (prepend && items.length) $("timeline").prepend(li); else $("timeline").insertBefore(li, after || $("timeline").querySelector("li.pending"));
    if (!prepend && (atBottom || message.authorId === app.user)) scrollToBottom();
  }
  $("empty").hidden = $("timeline").children.length > 0;
  li.querySelector(".text").textContent = message.deleted ? "message deleted" : message.text;
  li.classList.toggle("deleted", Boolean(message.deleted));
  li.classList.toggle("edited", Boolean(message.edited) && !message.deleted);
}

function nearBottom() {
  const t = $("timeline");
  return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
}

function scrollToBottom() {
  const t = $("timeline");
  t.scrollTop = t.scrollHeight;
}

function onEvent(e) {
  const inRoom = e.roomId === app.room;
  if (e.kind === "messagePosted" && inRoom) {
    render({ messageId: e.payload.messageId, position: e.envelope.position, authorId: e.actor, text: e.payload.text, postedAt: e.envelope.occurredAt });
    markRead();
  } else if (e.kind === "messageEdited" && inRoom) {
    const li = document.querySelector(`#timeline li[data-message-id="${e.payload.messageId}"]`);
    if (li) { li.querySelector(".text").textContent = e.payload.text; li.classList.add("edited"); }
  } else if (e.kind === "messageDeleted" && inRoom) {
    const li = document.querySelector(`#timeline li[data-message-id="${e.payload.messageId}"]`);
    if (li) { li.querySelector(".text").textContent = "message deleted"; li.classList.add("deleted"); }
  } else if (e.kind === "acked" && inRoom && e.payload.userId !== app.user) {
    app.receipts.set(e.payload.userId, Number(e.payload.upTo));
    showReceipts();
  }
  if (!inRoom || e.kind.startsWith("member")) refreshRooms().catch(() => {});
}

function showReceipts() {
  document.querySelectorAll("#timeline .receipts").forEach((el) => { el.textContent = ""; });
  for (const [user, upTo] of app.receipts) {
    const seen = [...document.querySelectorAll("#timeline li")].filter((li) => Number(li.dataset.position) <= upTo).pop();
    if (seen) seen.querySelector(".receipts").textContent += `seen by ${user} `;
  }
}

async function markRead() {
  const items = document.querySelectorAll("#timeline li");
  if (!items.length) return;
  const upTo = Number(items[items.length - 1].dataset.position);
  try { await app.client.ack(app.room, upTo); } catch { /* a later ack covers it */ }
}

async function loadPresence() {
  const rows = await app.client.rest("GET", `/v1/rooms/${app.room}/presence`);
  $("presence").replaceChildren(...rows.map((p) => {
    const li = document.createElement("li");
    li.textContent = p.userId;
    li.className = p.online ? "online" : "offline";
    return li;
  }));
}

function onTyping(t) {
  if (t.roomId !== app.room) return;
  clearTimeout(app.typingTimers.get(t.userId));
  if (t.typing) app.typingTimers.set(t.userId, setTimeout(() => { app.typingTimers.delete(t.userId); showTyping(); }, 4000));
  else app.typingTimers.delete(t.userId);
  showTyping();
}

function showTyping() {
  const users = [...app.typingTimers.keys()];
  $("typing").textContent = users.length ? `${users.join(", ")} typing…` : "";
}

let lastTyping = 0;
$("composer").addEventListener("input", () => {
  if (app.room && Date.now() - lastTyping > 2000) { lastTyping = Date.now(); app.client.typing(app.room, true).catch(() => {}); }
});
// A send shows at once as pending; the client retries it (same clientMsgId) until the
// server has it, then the logged message takes its place; a send that fails says so.
async function sendPending(room, text, li = null) {
  const clientMsgId = li?.dataset.clientMsgId || (crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`);
  if (!li) {
    li = document.createElement("li");
    li.className = "pending";
    li.dataset.clientMsgId = clientMsgId;
    li.innerHTML = '<span class="author"></span><span class="text"></span> <span class="status"></span>';
    li.querySelector(".author").textContent = app.user;
    li.querySelector(".text").textContent = text;
    $("timeline").append(li);
    $("empty").hidden = true;
    scrollToBottom();
  }
  li.className = "pending";
  li.querySelector(".status").replaceChildren("sending…");
  try {
    const sent = await app.client.send(room, text, { clientMsgId });
    li.remove();
    if (room === app.room) {
      const messageId = sent.messagePosted?.messageId || sent.eventId;
      render({ messageId, position: Number(sent.position), authorId: app.user, text, postedAt: sent.occurredAt });
    }
  } catch (error) {
    li.className = "failed";
    const retry = Object.assign(document.createElement("button"), { textContent: "retry", className: "retry" });
    retry.onclick = () => sendPending(room, text, li);
    li.querySelector(".status").replaceChildren(`not sent: ${error.message} `, retry);
  }
}

$("composer-form").onsubmit = (event) => {
  event.preventDefault();
  const text = $("composer").value.trim();
  if (!text || !app.room) return;
  $("composer").value = "";
  sendPending(app.room, text);
};
$("create-form").onsubmit = async (event) => {
  event.preventDefault();
  const kind = $("new-channel").checked ? "channel" : "group";
  const room = await app.client.rest("POST", "/v1/rooms", { name: $("new-room").value || "room", kind });
  $("new-room").value = "";
  $("new-channel").checked = false;
  await openRoom(room.roomId);
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function joinRoom(roomId) {
  const mine = await app.client.rest("GET", "/v1/rooms");
  if (!mine.some((r) => r.roomId === roomId)) await app.client.join(roomId);
  await openRoom(roomId);
}

// A room id, or a name: the one public room of that name in the directory.
$("join-form").onsubmit = async (event) => {
  event.preventDefault();
  const wanted = $("join-room").value.trim();
  $("join-error").textContent = "";
  try {
    let roomId = wanted;
    if (!UUID.test(wanted)) {
      const { rooms } = await app.client.rest("GET", `/v1/rooms/public?q=${encodeURIComponent(wanted)}`);
      const exact = rooms.filter((r) => r.name.toLowerCase() === wanted.toLowerCase());
      if (exact.length !== 1) {
        $("join-error").textContent = exact.length
          ? `${exact.length} public rooms are named "${wanted}": pick one below`
          : `no public room is named "${wanted}"`;
        await searchDirectory(wanted);
        return;
      }
      roomId = exact[0].roomId;
    }
    await joinRoom(roomId);
    $("join-room").value = "";
  } catch (error) {
    $("join-error").textContent = error.message;
  }
};

async function searchDirectory(q) {
  const { rooms } = await app.client.rest("GET", `/v1/rooms/public?q=${encodeURIComponent(q)}`);
  $("directory").replaceChildren(...rooms.map((room) => {
    const li = document.createElement("li");
    li.dataset.roomId = room.roomId;
    li.textContent = `${room.kind === "channel" ? "# " : ""}${room.name} (${room.members}) `;
    const join = document.createElement("button");
    join.textContent = "Join";
    join.onclick = () => joinRoom(room.roomId).catch((e) => { $("join-error").textContent = e.message; });
    li.append(join);
    return li;
  }));
}

$("directory-form").onsubmit = (event) => { event.preventDefault(); searchDirectory($("directory-q").value).catch(() => {}); };
$("direct-form").onsubmit = async (event) => {
  event.preventDefault();
  const peer = $("direct-user").value.trim();
  $("join-error").textContent = "";
  try {
    const room = await app.client.rest("POST", `/v1/direct/${encodeURIComponent(peer)}`);
    $("direct-user").value = "";
    await openRoom(room.roomId);
  } catch (error) {
    $("join-error").textContent = error.message;
  }
};
$("copy-id").onclick = () => navigator.clipboard?.writeText($("room-id").textContent).catch(() => {});
$("older").onclick = loadOlder;
$("login-form").onsubmit = (event) => { event.preventDefault(); signIn($("user").value.trim()); };

const saved = localStorage.getItem("tidings.user");
if (saved) signIn(saved);
