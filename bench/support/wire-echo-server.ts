/**
 * A bare WebSocket server on 127.0.0.1 for measuring the wire floor of a browser tab: a binary
 * message is answered with its length (text), a text message `give N` with N bytes. No socket.io,
 * no crowdtrain: what moving the bytes costs in this browser on this machine, nothing else.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';

/** A running echo server; `close()` stops it and every connection. */
export interface WireEchoServer {
  url: string;
  close(): Promise<void>;
}

const MAX_GIVE_BYTES = 256 * 1024 * 1024;

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((a, b) => a + b.byteLength, 0);
  return data.byteLength;
}

/** Starts the echo server on a free loopback port. */
export async function startWireEchoServer(): Promise<WireEchoServer> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('WebSocket only\n');
  });
  const wss = new WebSocketServer({ server: http, maxPayload: MAX_GIVE_BYTES });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.send(String(byteLength(data)));
        return;
      }
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : '';
      const m = /^give (\d+)$/.exec(text);
      const n = m ? Number(m[1]) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_GIVE_BYTES) {
        ws.close(1008, `expected a binary message or "give N" with N <= ${MAX_GIVE_BYTES}`);
        return;
      }
      ws.send(Buffer.alloc(n, 7));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
