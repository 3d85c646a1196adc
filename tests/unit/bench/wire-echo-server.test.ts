import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startWireEchoServer, type WireEchoServer } from '../../../bench/support/wire-echo-server.ts';

let server: WireEchoServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
}

describe('startWireEchoServer', () => {
  it('answers a binary message with its length and "give N" with N bytes', async () => {
    server = await startWireEchoServer();
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    const ws = await open(server.url);
    const length = nextMessage(ws);
    ws.send(new Uint8Array(70_000));
    const a = await length;
    expect(a.isBinary).toBe(false);
    expect(a.data.toString()).toBe('70000');
    const bytes = nextMessage(ws);
    ws.send('give 4096');
    const b = await bytes;
    expect(b.isBinary).toBe(true);
    expect(b.data.byteLength).toBe(4096);
    ws.close();
  });

  it('closes the connection with a policy error on any other text message', async () => {
    server = await startWireEchoServer();
    const ws = await open(server.url);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.send('give lots');
    const c = await closed;
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(/give N/);
  });
});
