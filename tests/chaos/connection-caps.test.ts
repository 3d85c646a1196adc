import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { MAX_CONNECTIONS_PER_ADDRESS, MAX_UNVERIFIED_PER_ADDRESS } from '../../coordinator/fleet/connection-guard.ts';
import { PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import { workerSocketOptions } from '../../core/worker/socket-transport.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

/** Opens one real Socket.io connection (its own engine connection); resolves with it, or with the connect error. */
function connect(url: string, token: string): Promise<{ socket: Socket; error: Error | null }> {
  const socket = io(url, { ...workerSocketOptions(token), forceNew: true, reconnection: false });
  chaos.onCleanup(() => void socket.disconnect());
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, error: null }));
    socket.once('connect_error', (error) => resolve({ socket, error }));
    socket.connect();
  });
}

/** engine.io's answer to a handshake request (the refusal reason is in its JSON body). */
async function handshake(url: string, token: string | null): Promise<{ status: number; body: string }> {
  const q = token === null ? '' : `&token=${encodeURIComponent(token)}&protocolVersion=${PROTOCOL_VERSION}`;
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling${q}`);
  return { status: res.status, body: await res.text() };
}

describe('worker connection caps (issue 15, item 1)', () => {
  it(`the ${MAX_CONNECTIONS_PER_ADDRESS}-per-address cap (the default): one more is refused naming the limit; closing one frees a slot`, async () => {
    const t = await chaos.start();
    const url = t.coordinator.url;
    const open: Socket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_ADDRESS; i++) {
      const c = await connect(url, t.token);
      expect(c.error, `connection ${i + 1}`).toBeNull();
      open.push(c.socket);
    }
    const over = await connect(url, t.token);
    expect(over.error).not.toBeNull();
    const refused = await handshake(url, t.token);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(new RegExp(`too many worker connections from .* \\(limit ${MAX_CONNECTIONS_PER_ADDRESS}\\)`));

    open.shift()!.disconnect();
    let again = await connect(url, t.token);
    // The server sees the close a moment after the client: a few bounded retries.
    for (let i = 0; i < 20 && again.error !== null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await connect(url, t.token);
    }
    expect(again.error).toBeNull();
  });

  it('the total cap (lowered to 5 for the test) refuses the sixth connection, whatever its address', async () => {
    const t = await chaos.start({ connectionLimits: { total: 5 } });
    for (let i = 0; i < 5; i++) expect((await connect(t.coordinator.url, t.token)).error).toBeNull();
    expect((await connect(t.coordinator.url, t.token)).error).not.toBeNull();
    const refused = await handshake(t.coordinator.url, t.token);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/too many worker connections \(limit 5\)/);
  });

  it(`connections without the token have their own, tighter cap (${MAX_UNVERIFIED_PER_ADDRESS} per address)`, async () => {
    const t = await chaos.start();
    // Handshakes without the token, held open (polling sessions that never upgrade).
    for (let i = 0; i < MAX_UNVERIFIED_PER_ADDRESS; i++) expect((await handshake(t.coordinator.url, null)).status).toBe(200);
    const refused = await handshake(t.coordinator.url, null);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(new RegExp(`too many unauthenticated connections from .* \\(limit ${MAX_UNVERIFIED_PER_ADDRESS}\\)`));
    // A worker with the token still gets in.
    expect((await connect(t.coordinator.url, t.token)).error).toBeNull();
  });
});
