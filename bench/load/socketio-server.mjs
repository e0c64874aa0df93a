// The Node socket.io 4 peer: JWT (HS256) auth in the handshake, "join" and "send" with acks,
// messages relayed to the room's other members. In memory, as socket.io users run it.
//   node socketio-server.mjs PORT SECRET
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const [port, secret] = process.argv.slice(2);

function verify(token) {
  const [head, body, sig] = String(token).split(".");
  const expected = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig || "", "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  return claims.exp > Date.now() / 1000 ? claims : null;
}

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
io.use((socket, next) => {
  const claims = verify(socket.handshake.auth?.token);
  if (!claims) return next(new Error("unauthorized"));
  socket.data.user = claims.sub;
  next();
});
io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack?.({ ok: true });
  });
  socket.on("send", (msg, ack) => {
    socket.to(msg.room).emit("msg", msg.data);
    ack?.({ ok: true });
  });
});
http.listen(Number(port), "127.0.0.1", () => console.error(`socket.io on 127.0.0.1:${port}`));
