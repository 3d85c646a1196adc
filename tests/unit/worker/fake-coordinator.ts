/**
 * A scripted stand-in for the coordinator in worker unit tests: a real socket.io server on a free
 * loopback port that speaks the protocol's event maps, acks hellos, and lets the test play every
 * coordinator message (run:assign, params, steps, run:end) and read what the worker sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { float32ToBytes } from '../../../core/codec/float-bytes.ts';
import { splitIntoChunks } from '../../../core/codec/chunking.ts';
import {
  HandshakeAuthSchema,
  type AckResult,
  type ClientToServerEvents,
  type RunAssign,
  type RunReady,
  type ServerToClientEvents,
  type StepAssign,
} from '../../../core/protocol/messages.ts';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../../../core/protocol/version.ts';

/** The coordinator's side of one worker connection. */
export type FakeWorkerSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** One committed step as the fake coordinator received it. */
export interface ReceivedCommit {
  commit: Record<string, unknown>;
  /** The step's result chunks, in index order, joined. */
  bytes: Uint8Array;
  chunkCount: number;
}

/** A queue that hands out items in arrival order and waits when empty. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];
  /** Every item ever pushed. */
  readonly all: T[] = [];
  push(v: T): void {
    this.all.push(v);
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  next(): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Options of the fake coordinator. */
export interface FakeCoordinatorOptions {
  /** Refuse every handshake with this connect_error code (e.g. BAD_TOKEN). */
  refuseHandshake?: { code: string; message: string };
  /** Port to listen on (0: any free one). */
  port?: number;
}

/** A started fake coordinator; `close()` stops it. */
export class FakeCoordinator {
  readonly hellos = new Inbox<{ socket: FakeWorkerSocket; hello: Record<string, unknown> }>();
  readonly commits = new Inbox<ReceivedCommit>();
  readonly declines = new Inbox<Record<string, unknown>>();
  readonly leaves = new Inbox<Record<string, unknown>>();
  private readonly chunks = new Map<string, { index: number; bytes: Uint8Array }[]>();
  private nextId = 1;

  private constructor(
    private readonly server: http.Server,
    private readonly io: Server<ClientToServerEvents, ServerToClientEvents>,
    readonly url: string,
    readonly port: number,
  ) {}

  /** Starts listening on 127.0.0.1. */
  static async start(opts: FakeCoordinatorOptions = {}): Promise<FakeCoordinator> {
    const server = http.createServer();
    const io = new Server<ClientToServerEvents, ServerToClientEvents>(server, { maxHttpBufferSize: MAX_MESSAGE_BYTES, serveClient: false });
    await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fake = new FakeCoordinator(server, io, `http://127.0.0.1:${port}`, port);
    io.use((socket, next) => {
      const auth = HandshakeAuthSchema.safeParse(socket.handshake.auth);
      const refuse = opts.refuseHandshake ?? (auth.success && auth.data.protocolVersion === PROTOCOL_VERSION ? null : { code: 'PROTOCOL_MISMATCH', message: 'bad handshake' });
      if (!refuse) return next();
      next(Object.assign(new Error(refuse.message), { data: { code: refuse.code } }));
    });
    io.on('connection', (socket) => fake.onConnection(socket));
    return fake;
  }

  private onConnection(socket: FakeWorkerSocket): void {
    socket.on('worker:hello', (raw, ack) => {
      const hello = raw as Record<string, unknown>;
      const workerId = typeof hello.workerId === 'string' ? hello.workerId : `w-${this.nextId++}`;
      ack({ ok: true, workerId, protocolVersion: PROTOCOL_VERSION });
      this.hellos.push({ socket, hello });
    });
    socket.on('grad:chunk', (raw) => {
      const msg = raw as { runId: string; step: number; index: number; bytes: Uint8Array };
      const key = `${msg.runId}/${msg.step}`;
      const list = this.chunks.get(key) ?? [];
      list.push({ index: msg.index, bytes: new Uint8Array(msg.bytes) });
      this.chunks.set(key, list);
    });
    socket.on('grad:commit', (raw, ack) => {
      const commit = raw as Record<string, unknown>;
      const key = `${String(commit.runId)}/${String(commit.step)}`;
      const parts = (this.chunks.get(key) ?? []).sort((a, b) => a.index - b.index);
      this.chunks.delete(key);
      const bytes = new Uint8Array(parts.reduce((a, p) => a + p.bytes.byteLength, 0));
      parts.reduce((o, p) => (bytes.set(p.bytes, o), o + p.bytes.byteLength), 0);
      ack({ ok: true, accepted: true });
      this.commits.push({ commit, bytes, chunkCount: parts.length });
    });
    socket.on('step:decline', (raw) => this.declines.push(raw as Record<string, unknown>));
    socket.on('worker:leave', (raw, ack) => {
      this.leaves.push(raw as Record<string, unknown>);
      if (typeof ack === 'function') ack({ ok: true, left: true });
      socket.disconnect(true);
    });
  }

  /** Sends run:assign and resolves with the worker's ack. */
  assign(socket: FakeWorkerSocket, msg: RunAssign): Promise<AckResult<RunReady>> {
    return socket.emitWithAck('run:assign', msg);
  }

  /** Sends a parameter vector as params chunks of at most `chunkBytes`. */
  sendParams(socket: FakeWorkerSocket, runId: string, version: number, params: Float32Array, chunkBytes = 64): void {
    const bytes = float32ToBytes(params);
    const chunks = splitIntoChunks(bytes, chunkBytes);
    chunks.forEach((c, index) => socket.emit('params:chunk', { runId, version, index, count: chunks.length, totalBytes: bytes.byteLength, bytes: c }));
  }

  /** Assigns a step over these sample indices. */
  step(socket: FakeWorkerSocket, msg: Omit<StepAssign, 'indices'> & { indices: Uint32Array }): void {
    socket.emit('step:assign', { ...msg, indices: new Uint8Array(msg.indices.buffer, msg.indices.byteOffset, msg.indices.byteLength) });
  }

  /** Closes every connection and the server. */
  async close(): Promise<void> {
    // Closes the worker sockets, then the http server it is attached to.
    const closed = new Promise<void>((resolve) => void this.io.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
