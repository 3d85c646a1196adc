import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import type { ServerToClientEvents, TypedClientToServerEvents } from '../../../core/protocol/messages.ts';
import { WorkerConnection, type WorkerConnectionEvent } from '../../../core/worker/worker-connection.ts';
import { workerSocketOptions } from '../../../core/worker/socket-transport.ts';
import { FakeCoordinator } from './fake-coordinator.ts';

type ClientSocket = Socket<ServerToClientEvents, TypedClientToServerEvents>;

const open: { fakes: FakeCoordinator[]; connections: WorkerConnection[] } = { fakes: [], connections: [] };
afterEach(async () => {
  for (const c of open.connections.splice(0)) await c.close();
  for (const f of open.fakes.splice(0)) await f.close();
});

async function fakeCoordinator(opts: Parameters<typeof FakeCoordinator.start>[0] = {}): Promise<FakeCoordinator> {
  const f = await FakeCoordinator.start(opts);
  open.fakes.push(f);
  return f;
}

/** A connection over a real socket.io-client socket, recording its events; `next(type)` waits for the next one of a type. */
function connect(url: string, opts: { workerId?: string; token?: string } = {}) {
  const socket: ClientSocket = io(url, { ...workerSocketOptions(opts.token ?? 'unit-token'), forceNew: true });
  const events: WorkerConnectionEvent[] = [];
  const waiters: { type: string; resolve: (e: WorkerConnectionEvent) => void }[] = [];
  const connection = new WorkerConnection({
    socket,
    workerId: opts.workerId,
    hello: () => ({ kind: 'node', backend: 'cpu', name: 'lifecycle' }),
    session: { loadTrainSet: () => Promise.reject(new Error('no runs in this test')) },
    onEvent: (e) => {
      events.push(e);
      const i = waiters.findIndex((w) => w.type === e.type);
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(e);
    },
  });
  open.connections.push(connection);
  const next = <T extends WorkerConnectionEvent['type']>(type: T) =>
    new Promise<Extract<WorkerConnectionEvent, { type: T }>>((resolve) => waiters.push({ type, resolve: (e) => resolve(e as Extract<WorkerConnectionEvent, { type: T }>) }));
  return { socket, connection, events, next };
}

describe('WorkerConnection (the one connection lifecycle of node workers, tabs and test workers)', () => {
  it('says hello without an id first, then rejoins with the remembered workerId after the connection drops and socket.io reconnects', async () => {
    const fake = await fakeCoordinator();
    const { connection, next } = connect(fake.url);
    const joined = next('joined');
    connection.start();
    const first = await fake.hellos.next();
    expect(first.hello).toMatchObject({ kind: 'node', backend: 'cpu', name: 'lifecycle' });
    expect(first.hello.workerId).toBeUndefined();
    expect(await joined).toEqual({ type: 'joined', workerId: 'w-1', rejoined: false });
    expect(connection.workerId).toBe('w-1');

    const dropped = next('disconnected');
    const rejoined = next('joined');
    // The transport dies under the worker (network loss, coordinator restart): not a leave.
    first.socket.conn.close();
    expect(await dropped).toMatchObject({ reconnecting: true, intentional: false });
    const second = await fake.hellos.next();
    expect(second.hello.workerId).toBe('w-1');
    expect(await rejoined).toEqual({ type: 'joined', workerId: 'w-1', rejoined: true });
  });

  it('leave() sends worker:leave with its reason and disconnects; resume() rejoins under the same id', async () => {
    const fake = await fakeCoordinator();
    const { connection, next } = connect(fake.url, { workerId: 'tab-7' });
    connection.start();
    expect((await fake.hellos.next()).hello.workerId).toBe('tab-7');
    await next('joined');
    const dropped = next('disconnected');
    await connection.leave('paused by the user');
    expect(await fake.leaves.next()).toEqual({ reason: 'paused by the user' });
    expect(await dropped).toMatchObject({ intentional: true, reconnecting: false });
    expect(connection.connected).toBe(false);

    const rejoined = next('joined');
    connection.resume();
    expect((await fake.hellos.next()).hello.workerId).toBe('tab-7');
    expect(await rejoined).toMatchObject({ workerId: 'tab-7', rejoined: true });
  });

  it('close() gets its worker:leave recorded before it disconnects, and never reconnects', async () => {
    const fake = await fakeCoordinator();
    const { socket, connection, next } = connect(fake.url);
    connection.start();
    await next('joined');
    const dropped = next('disconnected');
    await connection.close('SIGTERM');
    expect(await fake.leaves.next()).toEqual({ reason: 'SIGTERM' });
    expect(await dropped).toMatchObject({ intentional: true, reconnecting: false });
    expect(socket.active).toBe(false);
    connection.start();
    expect(socket.active).toBe(false);
  });

  for (const code of ['BAD_TOKEN', 'PROTOCOL_MISMATCH', 'INVALID_MESSAGE'] as const) {
    it(`a ${code} handshake refusal is reported and closes the socket for good`, async () => {
      const fake = await fakeCoordinator({ refuseHandshake: { code, message: `refused: ${code}` } });
      const { socket, connection, next } = connect(fake.url);
      const refused = next('handshake-refused');
      connection.start();
      expect(await refused).toEqual({ type: 'handshake-refused', code, message: `refused: ${code}` });
      expect(socket.active).toBe(false);
      expect(fake.hellos.all).toHaveLength(0);
    });
  }

  it('an unreachable coordinator is retried with backoff, counting attempts, until it is back', async () => {
    const probe = await FakeCoordinator.start();
    const port = probe.port;
    await probe.close();
    const { connection, next, events } = connect(`http://127.0.0.1:${port}`);
    const first = next('unreachable');
    connection.start();
    expect(await first).toMatchObject({ attempts: 1 });
    expect(await next('unreachable')).toMatchObject({ attempts: 2 });
    const joined = next('joined');
    await fakeCoordinator({ port });
    expect(await joined).toMatchObject({ rejoined: false });
    expect(events.some((e) => e.type === 'handshake-refused')).toBe(false);
  });
});
