import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { Server, type Namespace, type Socket } from 'socket.io';
import { SHARD_NAMESPACE } from '../../core/shard/shard-protocol.ts';
import type { WorkerAgreement } from '../../core/aggregate/gradient-agreement.ts';
import {
  HandshakeAuthSchema,
  HelloSchema,
  LeaveSchema,
  describeZodError,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from '../../core/protocol/messages.ts';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';
import type { AppliedUpdate, RunSession } from '../run/run-session.ts';
import type { WorkerHandle } from '../run/worker-handle.ts';
import type { WorkerInfo } from '../worker-info.ts';
import { tokensMatch } from '../worker-token.ts';
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS, PRE_AUTH_TIMEOUT_MS, type ConnectionLimits, type EngineSocketLike } from './connection-guard.ts';
import { EventCoalescer } from './event-coalescer.ts';
import type { FleetScheduler, WorkerMove } from './fleet-scheduler.ts';
import { SocketRateLimiter, chunkCost, type LimitedKind } from './token-bucket.ts';

const debug = createDebug('crowdtrain:coordinator');

/** The coordinator's Socket.io server, typed by the protocol's event maps. */
export type WorkerSocketServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

type WorkerSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Worker messages that fail validation this many times get the worker disconnected. */
const MAX_INVALID_MESSAGES = 20;

/** Inbound kinds under a per-socket token bucket (coordinator/fleet/token-bucket.ts). */
const LIMITED_KINDS: ReadonlySet<string> = new Set<LimitedKind>(['worker:hello', 'grad:chunk', 'grad:commit', 'step:decline', 'worker:leave']);

/** What the worker socket side needs from the coordinator that owns it. */
export interface WorkerSocketsOptions {
  /** The HTTP server Socket.io attaches to (`/socket.io`). */
  server: http.Server;
  /** The worker join token every handshake must carry. */
  workerToken: string;
  /** Caps on concurrent worker connections (DEFAULT_CONNECTION_LIMITS for what is not given). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** How long a worker has to ack a run assignment. */
  assignTimeoutMs?: number;
  /** Where workers, their leaves and the coordinator's per-worker Events are recorded. */
  store: Pick<TrackingStore, 'upsertWorker' | 'retireWorker' | 'recordEvent'>;
  /** Who serves which run; told when a worker joins or leaves. */
  scheduler: Pick<FleetScheduler, 'runOf' | 'workerJoined' | 'workerLeft'>;
  /** The active session of run `runId`, or null when it is not training here. */
  sessionOf(runId: string): RunSession | null;
  /** A worker said hello and is registered. */
  onWorkerJoined(info: WorkerInfo): void;
  /** A registered worker left or disconnected. */
  onWorkerLeft(workerId: string, reason: string): void;
}

/**
 * The worker side of the coordinator: the Socket.io server with its connection guard and handshake
 * check, each socket's rate limiter and message handlers, the connected workers (`workerId →
 * socket`, with their live statistics) and the per-worker Events, coalesced when repeated.
 * Messages are routed to the run session they belong to; placement is the scheduler's.
 */
export class WorkerSockets {
  /** The Socket.io server (bench/support/coordinator-traffic-tap.ts listens to it through the coordinator). */
  readonly io: WorkerSocketServer;
  /** The `/shard` namespace shard owners connect to (coordinator/shard/shard-owner-pool.ts serves it). */
  readonly shardNamespace: Namespace;
  private readonly sockets = new Map<string, WorkerSocket>();
  private readonly workerInfo = new Map<string, WorkerInfo>();
  private readonly guard: ConnectionGuard;
  /** The coordinator's own per-worker Events (joins, leaves, declines), coalesced when repeated. */
  private readonly workerEvents: EventCoalescer;

  constructor(private readonly opts: WorkerSocketsOptions) {
    this.guard = new ConnectionGuard(opts.workerToken, { ...DEFAULT_CONNECTION_LIMITS, ...opts.connectionLimits });
    this.workerEvents = new EventCoalescer((e) => opts.store.recordEvent(e));
    this.io = new Server(opts.server, {
      maxHttpBufferSize: MAX_MESSAGE_BYTES,
      pingInterval: 10_000,
      pingTimeout: 20_000,
      serveClient: false,
      // Caps and the query token are checked before the upgrade; a connection that has not passed
      // the socket.io handshake within PRE_AUTH_TIMEOUT_MS is closed.
      allowRequest: this.guard.allowRequest,
      connectTimeout: PRE_AUTH_TIMEOUT_MS,
    });
    // Registered after socket.io's own listener, so the socket.io client already listens to the
    // connection; the guard's packet check is prepended to it.
    this.io.engine.on('connection', (conn: EngineSocketLike) => this.guard.attach(conn));
    const checkHandshake = (socket: { handshake: { auth: unknown }; conn: object }, next: (err?: Error) => void) => {
      const parsed = HandshakeAuthSchema.safeParse(socket.handshake.auth);
      if (!parsed.success) {
        next(rejectHandshake('INVALID_MESSAGE', `handshake auth invalid: ${describeZodError(parsed.error)}`));
        return;
      }
      if (parsed.data.protocolVersion !== PROTOCOL_VERSION) {
        next(
          rejectHandshake(
            'PROTOCOL_MISMATCH',
            `worker speaks protocol v${parsed.data.protocolVersion}, this coordinator speaks v${PROTOCOL_VERSION}; update the worker`,
          ),
        );
        return;
      }
      if (!tokensMatch(parsed.data.token, opts.workerToken)) {
        next(rejectHandshake('BAD_TOKEN', 'wrong worker token: use the token printed by the coordinator at start (or CROWDTRAIN_TOKEN)'));
        return;
      }
      this.guard.authenticated(socket.conn);
      next();
    };
    this.io.use(checkHandshake);
    // Shard owners (mode: sharded) pass the same handshake on their own namespace.
    this.shardNamespace = this.io.of(SHARD_NAMESPACE);
    this.shardNamespace.use(checkHandshake);
    this.io.on('connection', (socket) => this.onConnection(socket));
  }

  /** Connected workers with their live statistics. */
  workers(): WorkerInfo[] {
    return [...this.workerInfo.values()];
  }

  /** The handle a run reaches a connected worker through, or null once it is gone. */
  handleFor(workerId: string): WorkerHandle | null {
    const socket = this.sockets.get(workerId);
    return socket ? this.socketHandle(workerId, socket) : null;
  }

  /** A shard owner on this engine connection said hello: its binary acks may flow past the connection guard. */
  ownerJoined(conn: object): void {
    this.guard.joined(conn);
  }

  /** The tfjs backend a connected worker said hello with, or null. */
  backendOf(workerId: string): string | null {
    return this.workerInfo.get(workerId)?.backend ?? null;
  }

  /** An update applied: each worker serving its run gets its share of the global batch (0 when it sat the round out). */
  creditUpdate(u: AppliedUpdate): void {
    const total = u.slices.reduce((a, sl) => a + sl.indices.length, 0);
    const shares = new Map(u.slices.map((sl) => [sl.workerId, sl.indices.length / Math.max(total, 1)]));
    for (const info of this.workerInfo.values()) {
      if (this.opts.scheduler.runOf(info.id) !== u.runId) continue;
      const share = shares.get(info.id);
      if (share !== undefined) info.share = share;
      else if (info.share !== null) info.share = 0;
    }
  }

  /** A worker's gradient agreement with the rest of its run's fleet, for its live statistics. */
  recordAgreement(a: WorkerAgreement): void {
    const info = this.workerInfo.get(a.workerId);
    if (!info) return;
    info.gradientAgreement = a.agreement;
    info.gradientOutlier = a.flagged;
  }

  /** A worker moved between runs: its per-run statistics start over on the new run, and the run it left records why. */
  onWorkerMoved(m: WorkerMove): void {
    // Idle, it keeps the figures of the run it served last (the fleet page still shows them); they
    // start over when it serves another.
    const info = this.workerInfo.get(m.workerId);
    if (info && m.to !== null) Object.assign(info, { samplesPerSec: null, share: null, gradientAgreement: null, gradientOutlier: false });
    if (m.from !== null && m.to !== null) {
      this.workerEvents.record({ runId: m.from, workerId: m.workerId, kind: 'worker_moved', detail: { to: m.to, reason: m.reason } }).catch((err: unknown) => debug('could not record a move: %O', err));
    } else if (m.from !== null && this.opts.sessionOf(m.from) !== null) {
      this.workerEvents.record({ runId: m.from, workerId: m.workerId, kind: 'worker_released', detail: { reason: m.reason } }).catch((err: unknown) => debug('could not record a release: %O', err));
    }
  }

  /** Disconnects every worker and closes the Socket.io server (and the HTTP server under it). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      void this.io.close(() => resolve());
    });
  }

  /** Writes the summary rows of coalesced events still in their window. */
  async flushEvents(): Promise<void> {
    await this.workerEvents.flush().catch((err: unknown) => debug('could not flush coalesced events: %O', err));
  }

  private socketHandle(id: string, socket: WorkerSocket): WorkerHandle {
    const timeout = this.opts.assignTimeoutMs ?? 120_000;
    const maxBatch = this.workerInfo.get(id)?.maxBatch ?? null;
    return {
      id,
      ...(maxBatch !== null ? { maxBatch } : {}),
      assignRun: async (msg) => {
        try {
          return await socket.timeout(timeout).emitWithAck('run:assign', msg);
        } catch (err) {
          return { ok: false, error: { code: ErrorCode.INTERNAL, message: `worker did not ack run:assign: ${(err as Error).message}` } };
        }
      },
      sendParamsChunk: (msg) => socket.emit('params:chunk', msg),
      assignStep: (msg) => socket.emit('step:assign', msg),
      endRun: (msg) => socket.emit('run:end', msg),
      releaseRun: (msg) => socket.emit('run:release', msg),
      evict: (reason) => {
        socket.emit('crowdtrain:error', { code: ErrorCode.NOT_ASSIGNED, message: `evicted: ${reason}` });
        socket.disconnect(true);
      },
    };
  }

  private onConnection(socket: WorkerSocket): void {
    let invalid = 0;
    const strike = (message: string) => {
      invalid += 1;
      socket.emit('crowdtrain:error', { code: ErrorCode.INVALID_MESSAGE, message });
      if (invalid >= MAX_INVALID_MESSAGES) {
        debug('disconnecting %s after %d invalid messages', socket.id, invalid);
        socket.disconnect(true);
      }
    };
    const helloTimer = setTimeout(() => {
      if (!socket.data.workerId) {
        socket.emit('crowdtrain:error', { code: ErrorCode.INVALID_MESSAGE, message: 'no worker:hello within 30 s' });
        socket.disconnect(true);
      }
    }, 30_000);
    helloTimer.unref();

    // Before its hello a socket may send nothing else; after it, every kind has a token bucket.
    // Over budget: dropped (acked with an error where the kind has an ack), with a rate-limited
    // notice; a socket that stays over budget is disconnected.
    const limiter = new SocketRateLimiter();
    socket.use(([event, ...args], next) => {
      const ack: unknown = args[args.length - 1];
      const refuse = (message: string) => {
        if (typeof ack === 'function') (ack as (r: unknown) => void)({ ok: false, error: { code: ErrorCode.INVALID_MESSAGE, message } });
      };
      if (!socket.data.workerId && event !== 'worker:hello') {
        refuse(`${event} before worker:hello`);
        socket.emit('crowdtrain:error', { code: ErrorCode.INVALID_MESSAGE, message: `${event} before worker:hello: disconnecting` });
        socket.disconnect(true);
        return;
      }
      if (!LIMITED_KINDS.has(event)) {
        next();
        return;
      }
      const verdict = limiter.admit(event as LimitedKind, event === 'grad:chunk' ? chunkCost(args[0]) : 1);
      if (verdict.ok) {
        next();
        return;
      }
      const message = `rate limit: ${event} over its budget, message dropped (${limiter.dropped} so far)`;
      refuse(message);
      if (verdict.disconnect) {
        debug('disconnecting %s (%s): stayed over its message budget (%d dropped)', socket.id, socket.data.workerId, limiter.dropped);
        socket.emit('crowdtrain:error', { code: ErrorCode.INVALID_MESSAGE, message: `rate limit: over budget for too long (${limiter.dropped} messages dropped): disconnecting` });
        socket.disconnect(true);
      } else if (verdict.notify) socket.emit('crowdtrain:error', { code: ErrorCode.INVALID_MESSAGE, message });
    });

    socket.on('worker:hello', (raw, ack) => {
      void (async () => {
        if (typeof ack !== 'function') return strike('worker:hello needs an acknowledgement callback');
        const parsed = HelloSchema.safeParse(raw);
        if (!parsed.success) {
          ack({ ok: false, error: { code: ErrorCode.INVALID_MESSAGE, message: `worker:hello: ${describeZodError(parsed.error)}` } });
          return strike('invalid worker:hello');
        }
        if (socket.data.workerId) {
          ack({ ok: true, workerId: socket.data.workerId, protocolVersion: PROTOCOL_VERSION });
          return;
        }
        const hello = parsed.data;
        let id = hello.workerId ?? `w-${randomUUID().slice(0, 8)}`;
        const holder = this.sockets.get(id);
        if (holder && holder !== socket) {
          // A worker reconnecting before its old connection timed out keeps its identity (and its
          // Worker and Contribution rows): the new connection replaces the old one. Another address
          // naming a connected worker's id gets an id of its own.
          if (holder.handshake.address === socket.handshake.address) this.replaceConnection(holder);
          else id = `${id}-${randomUUID().slice(0, 4)}`;
        }
        clearTimeout(helloTimer);
        socket.data.workerId = id;
        this.guard.joined(socket.conn);
        this.sockets.set(id, socket);
        const name = hello.name ?? id;
        this.workerInfo.set(id, {
          id,
          name,
          kind: hello.kind,
          backend: hello.backend,
          deviceInfo: hello.deviceInfo,
          connectedAt: new Date(),
          lastSeenAt: new Date(),
          steps: 0,
          samples: 0,
          samplesPerSec: null,
          rejected: 0,
          gradientAgreement: null,
          gradientOutlier: false,
          maxBatch: hello.capabilities.maxBatch ?? null,
          share: null,
        });
        try {
          await this.opts.store.upsertWorker({ id, kind: hello.kind, backend: hello.backend, deviceInfo: hello.deviceInfo, userAgent: hello.userAgent, name });
          await this.workerEvents.record({ workerId: id, kind: 'worker_joined', detail: { kind: hello.kind, backend: hello.backend, name, ...(hello.pinRun ? { pinRun: hello.pinRun } : {}) } });
        } catch (err) {
          debug('could not record worker %s: %O', id, err);
        }
        ack({ ok: true, workerId: id, protocolVersion: PROTOCOL_VERSION });
        const joined = this.workerInfo.get(id);
        if (joined) this.opts.onWorkerJoined(joined);
        this.opts.scheduler.workerJoined(id, hello.pinRun ?? null);
      })().catch((err: unknown) => debug('hello failed: %O', err));
    });

    socket.on('grad:chunk', (raw) => {
      const id = socket.data.workerId;
      if (!id) return strike('grad:chunk before worker:hello');
      const info = this.workerInfo.get(id);
      if (info) info.lastSeenAt = new Date();
      this.sessionFor(id, raw)?.receiveChunk(id, raw);
    });

    socket.on('grad:commit', (raw, ack) => {
      void (async () => {
        if (typeof ack !== 'function') return strike('grad:commit needs an acknowledgement callback');
        const id = socket.data.workerId;
        const run = id ? this.sessionFor(id, raw) : null;
        if (!id) {
          ack({ ok: false, error: { code: ErrorCode.NOT_ASSIGNED, message: 'send worker:hello first' } });
          return strike('grad:commit before worker:hello');
        }
        if (!run) {
          ack({ ok: false, error: { code: ErrorCode.NO_ACTIVE_RUN, message: `run ${runIdOf(raw) ?? '(none named)'} is not active on this coordinator` } });
          return;
        }
        const res = await run.receiveCommit(id, raw);
        const info = this.workerInfo.get(id);
        if (info) {
          info.lastSeenAt = new Date();
          if (res.ok) {
            const m = raw as { sampleCount: number; computeMs: number };
            info.steps += 1;
            info.samples += m.sampleCount;
            const rate = m.sampleCount / Math.max(m.computeMs / 1000, 1e-3);
            info.samplesPerSec = info.samplesPerSec === null ? rate : 0.8 * info.samplesPerSec + 0.2 * rate;
          } else info.rejected += 1;
        }
        ack(res);
      })().catch((err: unknown) => debug('commit failed: %O', err));
    });

    socket.on('step:decline', (raw) => {
      const id = socket.data.workerId;
      if (!id) return strike('step:decline before worker:hello');
      const run = this.sessionFor(id, raw);
      if (!run) return;
      run.declineStep(id, raw, (runId, kind, detail) => this.workerEvents.record({ runId, workerId: id, kind, detail })).catch((err: unknown) => strike(err instanceof Error ? err.message : String(err)));
    });

    socket.on('worker:leave', (raw, ack) => {
      const parsed = LeaveSchema.safeParse(raw ?? {});
      this.dropWorker(socket, parsed.success ? parsed.data.reason : 'leave');
      if (typeof ack === 'function') ack({ ok: true, left: true });
      socket.disconnect(true);
    });

    socket.on('disconnect', (reason) => {
      clearTimeout(helloTimer);
      this.dropWorker(socket, `disconnected: ${reason}`);
    });
  }

  /** A worker's new connection takes over its id: the old one leaves its runs and is closed, its Worker row stays for the new one. */
  private replaceConnection(old: WorkerSocket): void {
    this.dropWorker(old, 'replaced by a new connection', { keepRow: true });
    old.disconnect(true);
  }

  /**
   * A worker left: its runs lose it, and its Worker row is deleted when it never contributed to a
   * run, else marked as gone (`keepRow`: its identity lives on in a new connection).
   */
  private dropWorker(socket: WorkerSocket, reason: string, opts: { keepRow?: boolean } = {}): void {
    const id = socket.data.workerId;
    if (!id || this.sockets.get(id) !== socket) return;
    const runId = this.opts.scheduler.runOf(id);
    this.sockets.delete(id);
    this.workerInfo.delete(id);
    this.opts.scheduler.workerLeft(id, reason);
    this.opts.onWorkerLeft(id, reason);
    void (async () => {
      if (!opts.keepRow) await this.opts.store.retireWorker(id);
      await this.workerEvents.record({ runId: runId ?? undefined, workerId: id, kind: 'worker_left', detail: { reason } });
    })().catch((err: unknown) => debug('could not record leave of %s: %O', id, err));
  }

  /**
   * The session a worker's message belongs to: the run it names (a result of a run the worker was
   * just moved off still reaches that run, which refuses it as NOT_ASSIGNED without touching the
   * run the worker serves now), else the run it serves.
   */
  private sessionFor(workerId: string, raw: unknown): RunSession | null {
    const named = runIdOf(raw);
    // A message for a run that ended (or never ran here) reaches no run: the worker moved on.
    if (named !== null) return this.opts.sessionOf(named);
    const serving = this.opts.scheduler.runOf(workerId);
    return serving === null ? null : this.opts.sessionOf(serving);
  }
}

/** The `runId` a worker message names, when it names one as a string. */
function runIdOf(raw: unknown): string | null {
  if (raw === null || typeof raw !== 'object') return null;
  const id = (raw as { runId?: unknown }).runId;
  return typeof id === 'string' ? id : null;
}

function rejectHandshake(code: ErrorCode, message: string): Error {
  const err = new Error(message) as Error & { data: { code: ErrorCode; message: string } };
  err.data = { code, message };
  return err;
}
