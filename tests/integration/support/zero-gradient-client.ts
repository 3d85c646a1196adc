/**
 * A worker whose backend "computes" zeros (like a broken GPU read-back): every gradient it sends is
 * well-formed, finite and small, so validation accepts it; only the fleet-agreement check can tell.
 * Speaks the real protocol over a real socket.io connection.
 */
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '../../../core/protocol/version.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../core/protocol/messages.ts';

/** A connected zero-gradient worker; `close()` disconnects it. */
export interface ZeroGradientClient {
  workerId: string;
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  close(): void;
}

/**
 * Connects, says hello as a browser tab named `name`, and answers every step with zeros: float32
 * zeros unless `gradientBytes` builds the payload (from the parameter count) some other way.
 */
export async function joinZeroGradientClient(
  url: string,
  token: string,
  name = 'broken-tab',
  gradientBytes: (paramCount: number) => Uint8Array = (n) => new Uint8Array(n * 4),
): Promise<ZeroGradientClient> {
  const s: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    auth: { token, protocolVersion: PROTOCOL_VERSION },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  s.on('run:assign', (msg, ack) => ack({ ok: true, runId: msg.runId, paramCount: msg.paramCount, datasetSize: 240 }));
  let paramCount = 0;
  s.on('params:chunk', (msg) => (paramCount = msg.totalBytes / 4));
  s.on('step:assign', (msg) => {
    const bytes = gradientBytes(paramCount);
    const samples = (msg.indices as Uint8Array).byteLength / 4;
    s.emit('grad:chunk', { runId: msg.runId, step: msg.step, index: 0, count: 1, totalBytes: bytes.byteLength, bytes });
    s.emit('grad:commit', { runId: msg.runId, step: msg.step, paramsVersion: msg.paramsVersion, sampleCount: samples, loss: 1, accuracy: 0, computeMs: 1 }, () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  const hello = (await s.timeout(10_000).emitWithAck('worker:hello', { kind: 'browser', backend: 'webgpu', name })) as { ok: boolean; workerId?: string };
  if (!hello.ok || hello.workerId === undefined) {
    s.close();
    throw new Error(`zero-gradient client was refused: ${JSON.stringify(hello)}`);
  }
  return { workerId: hello.workerId, socket: s, close: () => s.close() };
}
