// The admin console: every call goes to the server API (/api/v1) with the admin key,
// which stays in this tab's sessionStorage only.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("tidings-admin-key") || "", room: null, head: 0, tailing: null, timers: [] };

async function api(method, path, body) {
  const response = await fetch("/api" + path, {
    method,
    headers: { Authorization: `Bearer ${state.key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(data?.error?.message || `${response.status}`);
  return data;
}

function show(error) { $("status").textContent = error ? String(error.message || error) : ""; }

function item(text, attrs = {}) {
  const li = document.createElement("li");
  li.textContent = text;
  for (const [k, v] of Object.entries(attrs)) li.dataset[k] = v;
  return li;
}

async function signIn(key) {
  state.key = key;
  await api("GET", "/v1/overview"); // refused unless the key is an admin key
  sessionStorage.setItem("tidings-admin-key", key);
  $("signin").hidden = true;
  $("console").hidden = false;
  $("who").textContent = `key ${key.split("_")[1]}`;
  await Promise.all([overview(), search(""), online()]);
  state.timers.push(setInterval(() => overview().catch(show), 2000));
  state.timers.push(setInterval(() => online().catch(show), 3000));
  state.timers.push(setInterval(() => tail().catch(show), 1000));
  state.timers.push(setInterval(() => state.room && members().catch(show), 3000));
}

async function overview() {
  const o = await api("GET", "/v1/overview");
  const rows = {
    mode: o.mode,
    ready: String(o.readiness.ready),
    "projection lag": o.lag.projections ?? o.lag.error ?? "-",
    "command lag": o.lag.commands ?? "-",
    ...(o.lag.partitions ? {
      "by partition": Object.entries(o.lag.partitions.projections)
        .map(([p, n]) => `${p}: ${n}/${o.lag.partitions.commands[p] ?? 0}`).join("  "),
    } : {}),
    "online users": o.online,
  };
  $("numbers").replaceChildren(...Object.entries(rows).flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v; dd.dataset.name = k;
    return [dt, dd];
  }));
  $("processes").replaceChildren(...o.processes.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.processId = p.process_id;
    for (const value of [`${p.kind} ${p.process_id}`, p.connections, p.messages_per_second, p.errors]) {
      const td = document.createElement("td"); td.textContent = value; tr.append(td);
    }
    return tr;
  }));
}

async function search(q) {
  const { rooms } = await api("GET", `/v1/rooms?q=${encodeURIComponent(q)}`);
  $("rooms").replaceChildren(...rooms.map((r) => {
    const li = item(`${r.name} (${r.members}) ${r.namespace !== "default" ? "[" + r.namespace + "]" : ""}`, { roomId: r.roomId });
    li.onclick = () => openRoom(r.roomId).catch(show);
    return li;
  }));
}

async function online() {
  const users = await api("GET", "/v1/users/online");
  $("online").replaceChildren(...users.map((u) => {
    const li = item(`${u.userId} (${Object.keys(u.devices).length})`, { userId: u.userId });
    li.onclick = () => { $("session-user").value = u.userId; };
    return li;
  }));
}

async function openRoom(roomId) {
  const room = await api("GET", `/v1/rooms/${roomId}`);
  state.room = room;
  state.head = 0;
  $("room").hidden = false;
  $("room-title").textContent = `${room.name} — ${room.roomId}`;
  $("room-title").dataset.roomId = room.roomId;
  $("audit-room").value = room.roomId;
  $("asof-room").value = room.roomId;
  $("tail").replaceChildren();
  await Promise.all([members(), tail()]);
}

async function members() {
  // Each member with its role and presence ("online" when any device is).
  const roomId = state.room.roomId;
  const [list, presence] = await Promise.all([
    api("GET", `/v1/rooms/${roomId}/members`),
    api("GET", `/v1/rooms/${roomId}/presence`),
  ]);
  const online = new Set(presence.filter((p) => p.online).map((p) => p.userId));
  $("members").textContent = list
    .map((m) => `${m.userId} (${m.role}${online.has(m.userId) ? ", online" : ""})`).join(", ");
}

function tail() {
  // One read at a time (the timer and opening a room would otherwise both append a page).
  state.tailing ??= readTail().finally(() => { state.tailing = null; });
  return state.tailing;
}

async function readTail() {
  // The first read takes the latest page (not the room's first); then what came after it.
  if (!state.room) return;
  const room = state.room;
  const query = state.head ? `after=${state.head}&limit=200` : "limit=200";
  const page = await api("GET", `/v1/rooms/${room.roomId}/messages?${query}`);
  if (state.room !== room) return; // another room was opened meanwhile
  for (const m of page.messages) {
    state.head = Math.max(state.head, m.position);
    const li = item(`#${m.position} ${m.authorId}: ${m.deleted ? "(deleted)" : m.text}`, { messageId: m.messageId, position: m.position });
    li.onclick = () => { $("audit-message").value = m.messageId; };
    $("tail").append(li);
  }
}

async function download(path, name) {
  const response = await fetch("/api" + path, { headers: { Authorization: `Bearer ${state.key}` } });
  if (!response.ok) throw new Error(`export failed: ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url; a.download = name; a.click();
  URL.revokeObjectURL(url);
}

$("signin").onsubmit = (e) => { e.preventDefault(); signIn($("key").value.trim()).catch(show); };
$("search").onsubmit = (e) => { e.preventDefault(); search($("q").value).catch(show); };
$("publish").onsubmit = (e) => {
  e.preventDefault();
  const text = $("publish-text").value;
  api("POST", `/v1/rooms/${state.room.roomId}/messages`, { text }).then(() => { $("publish-text").value = ""; return tail(); }).catch(show);
};
$("export").onclick = (e) => { e.preventDefault(); download(`/v1/audit/export?room=${state.room.roomId}`, `room-${state.room.roomId}.jsonl`).catch(show); };
for (const action of ["disconnect", "revoke"]) {
  $(action).onclick = () => {
    const user = $("session-user").value.trim();
    const deviceId = $("session-device").value.trim();
    api("POST", `/v1/users/${encodeURIComponent(user)}/${action}`, { deviceId })
      .then(() => { $("session-result").textContent = `${action}: ${user} done`; })
      .catch(show);
  };
}
$("receipts-form").onsubmit = (e) => {
  e.preventDefault();
  api("GET", `/v1/audit/receipts/${$("audit-room").value.trim()}/${$("audit-message").value.trim()}`)
    .then((answer) => { $("audit-answer").textContent = JSON.stringify(answer, null, 2); }).catch(show);
};
$("asof-form").onsubmit = (e) => {
  e.preventDefault();
  const cut = new URLSearchParams();
  if ($("asof-position").value.trim()) cut.set("atPosition", $("asof-position").value.trim());
  if ($("asof-time").value.trim()) cut.set("atTime", $("asof-time").value.trim());
  api("GET", `/v1/audit/rooms/${$("asof-room").value.trim()}?${cut}`)
    .then((answer) => { $("audit-answer").textContent = JSON.stringify(answer, null, 2); }).catch(show);
};
if (state.key) signIn(state.key).catch((error) => { sessionStorage.removeItem("tidings-admin-key"); show(error); });
window.tidingsAdmin = state;
