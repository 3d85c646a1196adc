/**
 * A client process of the fleet-sim bench (forked by fleet-sim-fleet.ts): hosts many simulated
 * workers, each a real socket.io-client connection speaking protocol v3 exactly as core/worker
 * does on the wire — `workerSocketOptions` (join token and protocol version in the handshake auth
 * and the engine.io query), `worker:hello`, a `RunReady` ack of `run:assign`, params chunks,
 * `step:assign` answered with `grad:chunk`s and an acknowledged `grad:commit` (sampleCount = the
 * slice's length), `step:decline` for a params version it does not hold. Instead of computing a
 * gradient it replays one real gradient of the run's model computed by the parent, so this
 * process costs the machine little and the coordinator does all its real work.
 */
import { io, type Socket } from 'socket.io-client';
import { splitIntoChunks } from '../../core/codec/chunking.ts';
import { CHUNK_BYTES } from '../../core/protocol/version.ts';
import {
  describeZodError,
  RunAssignSchema,
  StepAssignSchema,
  type AckResult,
  type ParamsChunk,
  type RunReady,
  type ServerToClientEvents,
  type TypedClientToServerEvents,
} from '../../core/protocol/messages.ts';
import { COMMIT_TIMEOUT_MS, workerSocketOptions, type WorkerSocketLike } from '../../core/worker/socket-transport.ts';
import { SimRequestSchema, type SimReply, type SimStart, type SimStats } from './fleet-sim-protocol.ts';

type WorkerSocket = Socket<ServerToClientEvents, TypedClientToServerEvents>;

/** How long a simulated worker waits for the ack of its worker:hello. */
const HELLO_TIMEOUT_MS = 120_000;

const stats: SimStats = { steps: 0, refused: 0, firstRefusal: null, refusedSteps: {}, declined: 0, paramsChunks: 0, paramsBytes: 0, assigns: 0, disconnects: 0, disconnectReasons: {} };

function send(reply: SimReply): void {
  process.send?.(reply);
}

function refused(step: number, code: string, message: string): void {
  stats.refused += 1;
  stats.firstRefusal ??= message;
  const key = `${step} ${code}`;
  stats.refusedSteps[key] = (stats.refusedSteps[key] ?? 0) + 1;
}

/** One simulated worker: one socket, the params version it holds, its steps answered in arrival order. */
class SimulatedWorker {
  readonly socket: WorkerSocket;
  /** The same socket through the worker side's structural type, whose acked emits are typed per event. */
  private readonly acks: WorkerSocketLike;
  private workerId: string | undefined;
  private runId: string | null = null;
  private heldVersion = -1;
  private assembling: { version: number; count: number; got: Set<number> } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private joined = false;

  constructor(
    private readonly cfg: SimStart,
    private readonly name: string,
    private readonly chunks: readonly Uint8Array[],
    private readonly onJoined: () => void,
  ) {
    // forceNew: one engine.io connection per simulated worker, as separate worker processes have.
    this.socket = io(cfg.url, { ...workerSocketOptions(cfg.token), forceNew: true });
    this.acks = this.socket;
    this.socket.on('connect', () => void this.hello());
    this.socket.on('disconnect', (reason) => {
      this.socket.sendBuffer.length = 0;
      if (this.joined) {
        stats.disconnects += 1;
        stats.disconnectReasons[reason] = (stats.disconnectReasons[reason] ?? 0) + 1;
      }
      this.runId = null;
      this.heldVersion = -1;
      this.assembling = null;
    });
    this.socket.on('connect_error', (err) => send({ type: 'error', message: `${name}: connect_error: ${err.message}` }));
    this.socket.on('run:assign', (raw, ack) => {
      stats.assigns += 1;
      ack(this.assign(raw));
    });
    this.socket.on('params:chunk', (msg) => this.paramsChunk(msg));
    this.socket.on('step:assign', (raw) => {
      this.queue = this.queue.then(() => this.step(raw)).catch((err: unknown) => refused(-1, 'ERROR', err instanceof Error ? err.message : String(err)));
    });
    this.socket.on('run:end', () => {
      this.runId = null;
    });
    this.socket.on('run:release', () => {
      this.runId = null;
    });
  }

  connect(): void {
    this.socket.connect();
  }

  private async hello(): Promise<void> {
    try {
      const res = await this.acks.timeout(HELLO_TIMEOUT_MS).emitWithAck('worker:hello', {
        kind: 'node',
        backend: 'sim',
        name: this.name,
        workerId: this.workerId,
        deviceInfo: { simulated: true },
        capabilities: { convBackprop: true },
      });
      if (!res.ok) throw new Error(`${res.error.code}: ${res.error.message}`);
      this.workerId = res.workerId;
      if (!this.joined) {
        this.joined = true;
        this.onJoined();
      }
    } catch (err) {
      send({ type: 'error', message: `${this.name}: worker:hello failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  /** The RunReady ack a real worker gives (it refuses another model size or task kind). */
  private assign(raw: unknown): AckResult<RunReady> {
    const parsed = RunAssignSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: { code: 'INVALID_MESSAGE', message: `run:assign: ${describeZodError(parsed.error)}` } };
    const msg = parsed.data;
    if (msg.task.kind !== 'gradient') return { ok: false, error: { code: 'UNKNOWN_TASK', message: `simulated workers know only the "gradient" task, not ${JSON.stringify(msg.task.kind)}` } };
    if (msg.gradientCompression !== 'none') return { ok: false, error: { code: 'INVALID_CONFIG', message: `simulated workers send float32 only, not ${msg.gradientCompression}` } };
    if (msg.paramCount !== this.cfg.paramCount) {
      return { ok: false, error: { code: 'SHAPE_MISMATCH', message: `model built here has ${this.cfg.paramCount} parameters, the coordinator's has ${msg.paramCount}` } };
    }
    this.runId = msg.runId;
    this.heldVersion = -1;
    this.assembling = null;
    return { ok: true, runId: msg.runId, paramCount: this.cfg.paramCount, datasetSize: this.cfg.datasetSize, backend: 'sim' };
  }

  /** Counts a version's chunks; it is held once all have arrived (the values themselves are not needed to replay). */
  private paramsChunk(msg: ParamsChunk): void {
    if (msg.runId !== this.runId) return;
    stats.paramsChunks += 1;
    stats.paramsBytes += msg.bytes.byteLength;
    if (!this.assembling || this.assembling.version !== msg.version) this.assembling = { version: msg.version, count: msg.count, got: new Set() };
    this.assembling.got.add(msg.index);
    if (this.assembling.got.size === this.assembling.count) {
      this.heldVersion = msg.version;
      this.assembling = null;
    }
  }

  private async step(raw: unknown): Promise<void> {
    const started = performance.now();
    const parsed = StepAssignSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`step:assign: ${describeZodError(parsed.error)}`);
    const msg = parsed.data;
    if (msg.runId !== this.runId || !this.socket.connected) return;
    if (this.heldVersion !== msg.paramsVersion) {
      stats.declined += 1;
      this.socket.emit('step:decline', {
        runId: msg.runId,
        step: msg.step,
        code: 'STALE_UPDATE',
        reason: `step ${msg.step} needs params version ${msg.paramsVersion}, this worker has ${this.heldVersion < 0 ? 'none' : this.heldVersion}`,
      });
      return;
    }
    const totalBytes = this.cfg.gradient.byteLength;
    this.chunks.forEach((bytes, index) => this.socket.emit('grad:chunk', { runId: msg.runId, step: msg.step, index, count: this.chunks.length, totalBytes, bytes }));
    let res;
    try {
      res = await this.acks.timeout(COMMIT_TIMEOUT_MS).emitWithAck('grad:commit', {
        runId: msg.runId,
        step: msg.step,
        paramsVersion: msg.paramsVersion,
        sampleCount: msg.indices.byteLength / 4,
        loss: this.cfg.loss,
        accuracy: this.cfg.accuracy,
        computeMs: performance.now() - started,
      });
    } catch (err) {
      refused(msg.step, 'NO_ACK', `no ack for grad:commit of step ${msg.step}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (res.ok) stats.steps += 1;
    else refused(msg.step, res.error.code, `step ${msg.step}: ${res.error.code}: ${res.error.message}`);
  }
}

let workers: SimulatedWorker[] = [];

function start(cfg: SimStart): void {
  if (cfg.gradient.byteLength !== cfg.paramCount * 4) throw new Error(`gradient has ${cfg.gradient.byteLength} bytes, expected ${cfg.paramCount * 4}`);
  const chunks = splitIntoChunks(cfg.gradient, CHUNK_BYTES);
  let joined = 0;
  let next = 0;
  const connectNext = () => {
    const w = workers[next++];
    w?.connect();
  };
  workers = Array.from(
    { length: cfg.workers },
    (_, i) =>
      new SimulatedWorker(cfg, `${cfg.namePrefix}-${i + 1}`, chunks, () => {
        joined += 1;
        connectNext();
        if (joined === cfg.workers) send({ type: 'joined', workers: joined });
      }),
  );
  for (let i = 0; i < Math.min(cfg.connectConcurrency, workers.length); i++) connectNext();
}

function close(): void {
  for (const w of workers) w.socket.disconnect();
  // Let the close frames go out before the process ends.
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (raw: unknown) => {
  const parsed = SimRequestSchema.safeParse(raw);
  if (!parsed.success) {
    send({ type: 'error', message: `fleet-sim client: bad request from the bench: ${describeZodError(parsed.error)}` });
    return;
  }
  const msg = parsed.data;
  try {
    if (msg.type === 'start') start(msg);
    else if (msg.type === 'stats') send({ type: 'stats', stats: { ...stats, refusedSteps: { ...stats.refusedSteps }, disconnectReasons: { ...stats.disconnectReasons } } });
    else close();
  } catch (err) {
    send({ type: 'error', message: `fleet-sim client: ${err instanceof Error ? err.message : String(err)}` });
  }
});
// The bench went away (finished or crashed): never outlive it.
process.on('disconnect', () => process.exit(0));
