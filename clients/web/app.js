// The Tidings demo chat page, built on the JS client (clients/js/tidings.js).
import { TidingsClient, localStorageStore } from "/client/tidings.js";

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
const app = { client: null, user: "", room: null, oldest: null, receipts: new Map(), typingTimers: new Map() };
window.tidingsApp = app;

async function signIn(user) {
  let token = localStorage.getItem(`tidings.token.${user}`);
  if (!token) {
    const response = await fetch("/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: user }) });
    if (!response.ok) throw new Error((await response.json()).error.message);
    token = (await response.json()).token;
    localStorage.setItem(`tidings.token.${user}`, token);
  }
  localStorage.setItem("tidings.user", user);
  app.user = user;
  $("me").textContent = user;
  $("login").hidden = true;
  $("chat").hidden = false;
  const client = new TidingsClient(wsUrl, { token, store: localStorageStore(`tidings.position.${user}`), backoffInitial: 0.2, backoffMax: 3 });
  app.client = client;
  client.on("state", ({ state }) => { $("state").textContent = state.replace("_", " "); $("state").dataset.state = state; if (state !== "reconnecting") refreshRooms(); });
  client.on("event", onEvent);
  client.on("typing", onTyping);
  client.on("presence", () => app.room && loadPresence());
  await client.connect();
  await refreshRooms();
  searchDirectory("").catch(() => {});
  const last = localStorage.getItem(`tidings.room.${user}`);
  if (last) await openRoom(last);
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
    li.innerHTML = '<span class="author"></span><span class="text"></span> <span class="actions"></span> <div class="receipts"></div>';
    li.querySelector(".author").textContent = message.authorId;
    if (message.authorId === app.user) {
      const edit = Object.assign(document.createElement("button"), { textContent: "edit", className: "edit" });
      edit.onclick = async () => { const text = prompt("Edit message", li.querySelector(".text").textContent); if (text) await app.client.edit(app.room, message.messageId, text); };
      const del = Object.assign(document.createElement("button"), { textContent: "delete", className: "delete" });
      del.onclick = () => app.client.delete(app.room, message.messageId);
      li.querySelector(".actions").append(edit, del);
    }
    const items = [...$("timeline").children];
    const after = items.find((x) => Number(x.dataset.position) > Number(message.position));
    if (prepend && items.length) $("timeline").prepend(li); else $("timeline").insertBefore(li, after || null);
  }
  li.querySelector(".text").textContent = message.deleted ? "message deleted" : message.text;
  li.classList.toggle("deleted", Boolean(message.deleted));
  li.classList.toggle("edited", Boolean(message.edited) && !message.deleted);
}

function onEvent(e) {
  const inRoom = e.roomId === app.room;
  if (e.kind === "messagePosted" && inRoom) {
    render({ messageId: e.payload.messageId, position: e.envelope.position, authorId: e.actor, text: e.payload.text });
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
  if (!inRoom || e.kind.startsWith("member")) refreshRooms();
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
$("composer-form").onsubmit = async (event) => {
  event.preventDefault();
  const text = $("composer").value.trim();
  if (!text || !app.room) return;
  $("composer").value = "";
  await app.client.send(app.room, text);
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
