/**
 * The one test worker: the REAL worker loop (WorkerSession) and connection lifecycle
 * (WorkerConnection) over a real socket.io-client socket, exactly as node workers and tabs run
 * them, with injectable behaviour so tests can play a broken or hostile worker:
 * - `tasks` replaces or adds worker tasks (default: the real registry);
 * - `transformResult` rewrites a step's result vector before the loop encodes it (zeros, NaN,
 *   huge norms, wrong lengths);
 * - `tamper` rewrites what goes on the wire after the loop (bytes the encoder never produces,
 *   bad chunk headers, stale or malformed commits) and can drop incoming params chunks.
 * Every commit and its ack is recorded (`nextCommit`). Use `socket` directly only for messages no
 * worker loop sends (a malformed hello, a flood of garbage).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { io, type Socket } from 'socket.io-client';
import { CHUNK_BYTES } from '../../../core/protocol/version.ts';
import type {
  AckResult,
  CommitAccepted,
  GradChunk,
  GradCommitInput,
  Hello,
  ParamsChunk,
  ServerToClientEvents,
  TypedClientToServerEvents,
} from '../../../core/protocol/messages.ts';
import { splitIntoChunks } from '../../../core/codec/chunking.ts';
import { loadDataset, type DatasetSpec } from '../../../core/data/dataset-spec.ts';
import type { Dataset } from '../../../core/data/dataset.ts';
import { WORKER_TASKS, type WorkerTask, type WorkerTaskContext, type WorkerTaskRegistry } from '../../../core/worker/tasks/index.ts';
import { WorkerConnection, type WorkerConnectionEvent } from '../../../core/worker/worker-connection.ts';
import type { WorkerSession, WorkerProgress } from '../../../core/worker/worker-session.ts';
import { workerSocketOptions } from '../../../core/worker/socket-transport.ts';
import type { WorkerTransport } from '../../../core/worker/worker-transport.ts';

/** The socket.io-client socket of a test worker. */
export type TestWorkerSocket = Socket<ServerToClientEvents, TypedClientToServerEvents>;

/** Where a step is, for the hooks. `attempt` counts this worker's results (0 for its first computed step, 1 for the next, ...). */
export interface TestStepContext {
  attempt: number;
  runId: string;
  step: number;
  paramsVersion: number;
  /** The run's parameter count (the length an honest result has). */
  paramCount: number;
  indices: Uint32Array;
}

/** Where a commit is: `attempt` counts this worker's commits (equal to the result's attempt). */
export interface TestCommitContext {
  attempt: number;
  step: number;
}

/** Wire-level tampering, after the real loop: for messages that loop never produces. */
export interface WireTamper {
  /** Replaces the encoded bytes of a step's whole result (re-chunked at CHUNK_BYTES), e.g. float32 bytes in an fp16 run. */
  resultBytes?(encoded: Uint8Array, ctx: TestCommitContext): Uint8Array;
  /** Rewrites each outgoing result chunk (e.g. a wrong totalBytes). */
  chunk?(msg: GradChunk, ctx: TestCommitContext): unknown;
  /** Rewrites a commit (a stale paramsVersion, a wrong sampleCount, malformed fields). */
  commit?(msg: GradCommitInput, ctx: TestCommitContext): unknown;
  /** Return true to drop an incoming params chunk (a worker that lost its parameters). */
  dropParamsChunk?(msg: ParamsChunk): boolean;
}

/** How to start a test worker. */
export interface TestWorkerOptions {
  url: string;
  token: string;
  name?: string;
  /** Worker kind in the hello (node). */
  kind?: Hello['kind'];
  /** Backend name in the hello (the tfjs backend in use). */
  backend?: string;
  /** Rejoin as this worker id. */
  workerId?: string;
  /** Serve only this run (the hello's pinRun). */
  pinRun?: string;
  /** The most samples one slice may have (the hello's `capabilities.maxBatch`). */
  maxBatch?: number;
  /** Replaces the handshake auth (a wrong protocol version, a malformed auth). */
  auth?: Record<string, unknown>;
  /** Whether socket.io reconnects after a dropped connection (false: a test worker that loses its connection stays gone). */
  reconnection?: boolean;
  /** The worker's task registry (default: the real WORKER_TASKS). */
  tasks?: WorkerTaskRegistry;
  /** Rewrites each step's result vector before the loop encodes it. */
  transformResult?: (values: Float32Array, ctx: TestStepContext) => Float32Array;
  tamper?: WireTamper;
}

/** One commit the worker sent and the coordinator's answer. */
export interface CommitRecord {
  /** The commit as sent (after any tampering). */
  commit: unknown;
  ack: AckResult<CommitAccepted>;
  /** Result chunks sent before it and their total bytes. */
  chunks: number;
  bytes: number;
}

/** A joined test worker. */
export interface TestWorker {
  readonly workerId: string;
  /** The raw socket, only for messages that no worker loop sends. */
  readonly socket: TestWorkerSocket;
  readonly connection: WorkerConnection;
  readonly session: WorkerSession;
  /** Every commit so far, in order. */
  readonly commits: readonly CommitRecord[];
  /** Every lifecycle event so far. */
  readonly events: readonly WorkerConnectionEvent[];
  /** Errors the worker loop reported (rejections, declines, invalid messages). */
  readonly errors: readonly unknown[];
  readonly progress: readonly WorkerProgress[];
  /** Params chunks received (dropped ones included). */
  readonly paramsChunks: number;
  /** The next commit not yet taken (those already made first, in order). */
  nextCommit(): Promise<CommitRecord>;
  /** Resolves with the next lifecycle event of this type (waits for a new one). */
  nextEvent<T extends WorkerConnectionEvent['type']>(type: T): Promise<Extract<WorkerConnectionEvent, { type: T }>>;
  /** Leaves (worker:leave, acked) and disconnects; the connection can resume(). */
  leave(reason?: string): Promise<void>;
  /** Closes for good: leaves (waiting briefly for the ack) and disconnects. */
  close(): Promise<void>;
}

/** Why a test worker could not join: the handshake or the hello was refused (code is the wire code), or the hello got no answer. */
export class TestWorkerJoinError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TestWorkerJoinError';
  }
}

const trainSets = new Map<string, Promise<Dataset>>();

/** The train split of a data set spec, loaded once per process (what a worker holds locally). */
function loadTrainSet(spec: DatasetSpec): Promise<Dataset> {
  const key = JSON.stringify(spec);
  let p = trainSets.get(key);
  if (!p) {
    p = loadDataset(spec).then((d) => d.train);
    trainSets.set(key, p);
  }
  return p;
}

/** Wraps every task so its result goes through `transform` (with this worker's attempt count). */
function transformTasks(tasks: WorkerTaskRegistry, transform: (values: Float32Array, ctx: TestStepContext) => Float32Array): WorkerTaskRegistry {
  let attempt = 0;
  const wrap = (task: WorkerTask): WorkerTask => ({
    ...task,
    async run(ctx: WorkerTaskContext) {
      const result = await task.run(ctx);
      const values = transform(result.values, {
        attempt: attempt++,
        runId: ctx.runId,
        step: ctx.step,
        paramsVersion: ctx.paramsVersion,
        paramCount: ctx.computer.layout.totalSize,
        indices: ctx.indices,
      });
      return { ...result, values };
    },
  });
  return Object.fromEntries(Object.entries(tasks).map(([kind, task]) => [kind, wrap(task)]));
}

/** The socket transport with the tampering and the commit log in between (the loop sees the same interface). */
function tamperedTransport(inner: WorkerTransport, tamper: WireTamper, onCommit: (r: CommitRecord) => void): WorkerTransport {
  let attempt = 0;
  let pending: GradChunk[] = [];
  return {
    ...inner,
    onParamsChunk: (handler) =>
      inner.onParamsChunk((msg) => {
        if (!tamper.dropParamsChunk?.(msg)) handler(msg);
      }),
    sendGradChunk: (msg) => {
      pending.push(msg);
      // Without byte-level tampering the chunks go out as the loop made them, at once.
      if (!tamper.resultBytes) inner.sendGradChunk(tamper.chunk ? (tamper.chunk(msg, { attempt, step: msg.step }) as GradChunk) : msg);
    },
    commitGradient: async (msg) => {
      const ctx = { attempt: attempt++, step: msg.step };
      let chunks = pending;
      pending = [];
      if (tamper.resultBytes) {
        const encoded = joinChunks(chunks);
        const bytes = tamper.resultBytes(encoded, ctx);
        const parts = splitIntoChunks(bytes, CHUNK_BYTES);
        chunks = parts.map((part, index) => ({ runId: msg.runId, step: msg.step, index, count: parts.length, totalBytes: bytes.byteLength, bytes: part }));
        for (const c of chunks) inner.sendGradChunk(tamper.chunk ? (tamper.chunk(c, ctx) as GradChunk) : c);
      }
      const commit = tamper.commit ? tamper.commit(msg, ctx) : msg;
      const ack = await inner.commitGradient(commit as GradCommitInput);
      onCommit({ commit, ack, chunks: chunks.length, bytes: chunks.reduce((a, c) => a + chunkBytes(c).byteLength, 0) });
      return ack;
    },
  };
}

function chunkBytes(c: GradChunk): Uint8Array {
  return c.bytes instanceof ArrayBuffer ? new Uint8Array(c.bytes) : c.bytes;
}

function joinChunks(chunks: GradChunk[]): Uint8Array {
  const parts = [...chunks].sort((a, b) => a.index - b.index).map(chunkBytes);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Starts a test worker and resolves once the coordinator accepted its hello. Rejects with a
 * TestWorkerJoinError (and closes the socket) when the handshake or the hello is refused.
 * @example const w = await joinTestWorker({ url, token, transformResult: (v) => v.fill(0) });
 */
export async function joinTestWorker(opts: TestWorkerOptions): Promise<TestWorker> {
  // The hello names the tfjs backend, which exists only once tfjs has initialised one.
  await tf.ready();
  const base = workerSocketOptions(opts.token);
  const socket: TestWorkerSocket = io(opts.url, {
    ...base,
    auth: opts.auth ?? base.auth,
    reconnection: opts.reconnection ?? false,
    forceNew: true,
  });
  const commits: CommitRecord[] = [];
  const events: WorkerConnectionEvent[] = [];
  const errors: unknown[] = [];
  const progress: WorkerProgress[] = [];
  let paramsChunks = 0;
  let commitCursor = 0;
  const commitWaiters: ((r: CommitRecord) => void)[] = [];
  const eventWaiters: { type: string; resolve: (e: WorkerConnectionEvent) => void }[] = [];
  const tamper = opts.tamper ?? {};
  const baseTasks = opts.tasks ?? WORKER_TASKS;
  const tasks = opts.transformResult ? transformTasks(baseTasks, opts.transformResult) : baseTasks;

  const onCommit = (r: CommitRecord) => {
    commits.push(r);
    const w = commitWaiters.shift();
    if (w) {
      commitCursor += 1;
      w(r);
    }
  };
  const connection = new WorkerConnection({
    socket,
    workerId: opts.workerId,
    hello: () => ({ kind: opts.kind ?? 'node', backend: opts.backend ?? tf.getBackend(), name: opts.name ?? 'test-worker', ...(opts.pinRun ? { pinRun: opts.pinRun } : {}), ...(opts.maxBatch !== undefined ? { capabilities: { convBackprop: true, maxBatch: opts.maxBatch } } : {}) }),
    session: {
      tasks,
      loadTrainSet,
      prepareBackend: async () => {
        await tf.ready();
        return tf.getBackend();
      },
      onProgress: (p) => progress.push(p),
      onError: (err) => errors.push(err),
    },
    wrapTransport: (inner) => {
      const counted: WorkerTransport = {
        ...inner,
        onParamsChunk: (handler) =>
          inner.onParamsChunk((msg) => {
            paramsChunks += 1;
            handler(msg);
          }),
      };
      return tamperedTransport(counted, tamper, onCommit);
    },
    onEvent: (e) => {
      events.push(e);
      for (let i = eventWaiters.length - 1; i >= 0; i--) {
        const w = eventWaiters[i]!;
        if (w.type === e.type) {
          eventWaiters.splice(i, 1);
          w.resolve(e);
        }
      }
    },
  });

  const worker: TestWorker = {
    get workerId() {
      const id = connection.workerId;
      if (id === undefined) throw new Error('test worker has not joined');
      return id;
    },
    socket,
    connection,
    session: connection.session,
    commits,
    events,
    errors,
    progress,
    get paramsChunks() {
      return paramsChunks;
    },
    nextCommit() {
      const ready = commits[commitCursor];
      if (ready) {
        commitCursor += 1;
        return Promise.resolve(ready);
      }
      return new Promise((resolve) => commitWaiters.push(resolve));
    },
    nextEvent<T extends WorkerConnectionEvent['type']>(type: T) {
      return new Promise<Extract<WorkerConnectionEvent, { type: T }>>((resolve) =>
        eventWaiters.push({ type, resolve: (e) => resolve(e as Extract<WorkerConnectionEvent, { type: T }>) }),
      );
    },
    leave: (reason = 'leave') => connection.leave(reason),
    close: () => connection.close('test worker closed'),
  };

  const outcome = new Promise<WorkerConnectionEvent>((resolve) => {
    for (const type of ['joined', 'join-refused', 'handshake-refused', 'hello-failed', 'unreachable'] as const) {
      eventWaiters.push({ type, resolve });
    }
  });
  connection.start();
  const first = await outcome;
  eventWaiters.length = 0;
  if (first.type === 'joined') return worker;
  await connection.close();
  throw joinError(first);
}

function joinError(e: WorkerConnectionEvent): TestWorkerJoinError {
  switch (e.type) {
    case 'handshake-refused':
      return new TestWorkerJoinError(e.code, e.message);
    case 'join-refused':
      return new TestWorkerJoinError(e.error.code, e.error.message);
    case 'unreachable':
      return new TestWorkerJoinError('UNREACHABLE', e.message);
    default:
      return new TestWorkerJoinError('INTERNAL', 'message' in e ? e.message : JSON.stringify(e));
  }
}

/** A result of zeros, as long as `values`: a backend whose read-back returns zeros (well-formed, finite, small). */
export function zeroResult(values: Float32Array): Float32Array {
  return new Float32Array(values.length);
}
