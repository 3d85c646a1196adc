// A child process for tests/chaos/dos-preauth-memory.test.ts: opens N tokenless raw engine.io
// websockets to the coordinator at argv[2]; each announces a socket.io BINARY_EVENT with 10
// attachments (socket.io-parser's maximum) and sends 9 binary frames just under 2 MB that never
// complete it. Prints one JSON line with how the connections fared, then keeps the open ones open
// until it is killed.
import WebSocket from 'ws';

const url = process.argv[2];
const n = Number(process.argv[3] ?? 100);
const FRAME = Buffer.alloc(2 * 1024 * 1024 - 64, 7);
const FRAMES = 9;
const sockets = [];

function attack() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    sockets.push(ws);
    let settled = false;
    const done = (how) => {
      if (!settled) {
        settled = true;
        resolve(how);
      }
    };
    ws.on('unexpected-response', () => done('refused'));
    ws.on('error', () => done('refused'));
    ws.on('close', () => done('closed'));
    ws.once('message', () => {
      ws.send('4510-["grad:chunk",{"_placeholder":true,"num":0}]');
      let sent = 0;
      const next = () => {
        if (ws.readyState !== WebSocket.OPEN) return done('closed');
        if (sent >= FRAMES) return setTimeout(() => done(ws.readyState === WebSocket.OPEN ? 'open' : 'closed'), 500);
        sent += 1;
        ws.send(FRAME, { binary: true }, next);
      };
      next();
    });
  });
}

const outcomes = await Promise.all(Array.from({ length: n }, attack));
const tally = {};
for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
process.stdout.write(`${JSON.stringify(tally)}\n`);
setInterval(() => {}, 60_000);
