import http from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { Server, type Socket } from 'socket.io';
import {
  HandshakeAuthSchema,
  HelloSchema,
  LeaveSchema,
  describeZodError,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from '../core/protocol/messages.ts';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../core/protocol/version.ts';
import { CrowdtrainError, ErrorCode, toWireError } from '../core/protocol/errors.ts';
import { validateRunConfig, type RunConfig } from '../core/config/run-config.ts';
import { modeOf, TRAINING_MODES } from '../core/run/modes.ts';
import type { ModeRegistry } from '../core/run/training-mode.ts';
import type { Database } from '../prisma/db.ts';
import { TrackingStore } from '../prisma/queries/tracking-store.ts';
import type { WorkerInfo } from './worker-info.ts';

export type { WorkerInfo } from './worker-info.ts';
import { loadNewestValidCheckpoint, type SkippedCheckpoint } from './run/run-checkpointer.ts';
import type { CheckpointContent } from './run/checkpoint-file.ts';
import { RunSession, loadRunCheckpoint, type AppliedUpdate, type MetricPoint, type RunOutcome, type RunProgress } from './run/run-session.ts';
import type { WorkerHandle } from './run/worker-handle.ts';
import { tokensMatch } from './worker-token.ts';
import { createHttpRouter } from './http/router.ts';
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS, PRE_AUTH_TIMEOUT_MS, type ConnectionLimits, type EngineSocketLike } from './fleet/connection-guard.ts';
import { SocketRateLimiter, chunkCost, type LimitedKind } from './fleet/token-bucket.ts';
import { EventCoalescer } from './fleet/event-coalescer.ts';
import { servedHostNames } from './http/request-guard.ts';

const debug = createDebug('crowdtrain:coordinator');

type CoordinatorSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Options of a coordinator process. */
export interface CoordinatorOptions {
  port: number;
  host: string;
  dataDir: string;
  db: Database;
  workerToken: string;
  /** Bearer token that REST API writes (start/stop runs, log metrics, registry) require; null/absent disables writes. */
  adminToken?: string | null;
  /** Serves everything that is not /socket.io or /api (the Next.js dashboard). */
  fallbackHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;
  /** The training modes this coordinator runs (the built-in registry by default; tests add their own). */
  modes?: ModeRegistry;
  /**
   * Show the worker join token in `GET /api/v1/status` to every reader (`--public-join`: the run is
   * open to volunteers). Default: only to admin-token requests — or to everyone when the coordinator
   * has no admin token at all (then no request could be admin; the CLI always has one).
   */
  publicJoin?: boolean;
  /** Extra `Host` names HTTP requests may carry besides loopback and the bound host (`--allowed-hosts`; `*` allows any). */
  allowedHosts?: readonly string[];
  /** How long a worker has to ack a run assignment. */
  assignTimeoutMs?: number;
  /** Caps on concurrent worker connections (coordinator/fleet/connection-guard.ts defaults); tests lower them. */
  connectionLimits?: Partial<ConnectionLimits>;
  onRunProgress?(p: RunProgress): void;
}

/** Worker messages that fail validation this many times get the worker disconnected. */
const MAX_INVALID_MESSAGES = 20;

/** Inbound kinds under a per-socket token bucket (coordinator/fleet/token-bucket.ts). */
const LIMITED_KINDS: ReadonlySet<string> = new Set<LimitedKind>(['worker:hello', 'grad:chunk', 'grad:commit', 'step:decline', 'worker:leave']);

/**
 * One coordinator process: HTTP (API + dashboard) and Socket.io on one port, the worker fleet,
 * and the active run session.
 */
export class Coordinator {
  readonly store: TrackingStore;
  /**
   * Observability events: 'worker-joined' (WorkerInfo), 'worker-left' (id, reason),
   * 'progress' (RunProgress), 'update' (AppliedUpdate), 'run-ended' (runId, RunOutcome).
   */
  readonly events = new EventEmitter<{
    'worker-joined': [WorkerInfo];
    'worker-left': [string, string];
    progress: [RunProgress];
    update: [AppliedUpdate];
    'run-ended': [string, RunOutcome];
    checkpoint: [{ runId: string; step: number; reason: string; path: string }];
    metrics: [string, MetricPoint[]];
  }>();
  private readonly server: http.Server;
  private readonly io: Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
  private readonly sockets = new Map<string, CoordinatorSocket>();
  private readonly workerInfo = new Map<string, WorkerInfo>();
  private session: RunSession | null = null;
  private urlValue = '';
  private readonly guard: ConnectionGuard;
  /** The coordinator's own per-worker Events (joins, leaves, declines), coalesced when repeated. */
  private readonly workerEvents: EventCoalescer;

  private constructor(private readonly opts: CoordinatorOptions) {
    this.store = new TrackingStore(opts.db, { modes: Object.keys(this.modes) });
    const api = createHttpRouter(this);
    this.server = http.createServer((req, res) => {
      void (async () => {
        try {
          if (await api(req, res)) return;
          if (opts.fallbackHandler) await opts.fallbackHandler(req, res);
          else {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('not found (dashboard disabled)\n');
          }
        } catch (err) {
          debug('http error: %O', err);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: toWireError(err) }));
        }
      })();
    });
    this.guard = new ConnectionGuard(opts.workerToken, { ...DEFAULT_CONNECTION_LIMITS, ...opts.connectionLimits });
    this.workerEvents = new EventCoalescer((e) => this.store.recordEvent(e));
    this.io = new Server(this.server, {
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
    this.io.use((socket, next) => {
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
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(opts);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new Error(`port ${opts.port} on ${opts.host} is already in use: stop the other process or pass --port / PORT`, { cause: err }));
        } else reject(err);
      };
      c.server.once('error', onError);
      c.server.listen(opts.port, opts.host, () => {
        c.server.off('error', onError);
        resolve();
      });
    });
    const addr = c.server.address() as AddressInfo;
    const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
    c.urlValue = `http://${host}:${addr.port}`;
    return c;
  }

  /** Base URL workers and browsers use. */
  get url(): string {
    return this.urlValue;
  }

  /** The bound TCP port. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The worker join token. */
  get workerToken(): string {
    return this.opts.workerToken;
  }

  /** The admin token guarding REST API writes, or null when writes are disabled. */
  get adminToken(): string | null {
    return this.opts.adminToken ?? null;
  }

  /** Whether the status page shows the worker join token to every reader (see CoordinatorOptions.publicJoin). */
  get publicJoin(): boolean {
    return this.opts.publicJoin ?? this.adminToken === null;
  }

  /** The `Host` names HTTP requests may carry: loopback, the bound host (every local address for 0.0.0.0), `allowedHosts`. */
  get allowedHosts(): readonly string[] {
    return servedHostNames(this.opts.host, this.opts.allowedHosts);
  }

  /** The training modes this coordinator can run. */
  get modes(): ModeRegistry {
    return this.opts.modes ?? TRAINING_MODES;
  }

  /** The tracking database this coordinator writes to. */
  get database(): Database {
    return this.opts.db;
  }

  /** The data directory (checkpoints live under `<dataDir>/checkpoints`). */
  get dataDir(): string {
    return this.opts.dataDir;
  }

  /**
   * Gracefully stops the run `runId` if it is the active one (checkpointing) and resolves with its
   * outcome; throws RUN_NOT_FOUND / NO_ACTIVE_RUN naming the run otherwise.
   */
  async stopRun(runId: string, detail = 'stopped through the API'): Promise<RunOutcome> {
    const run = this.activeRun;
    if (!run || run.runId !== runId) {
      const known = await this.store.getRun(runId);
      if (!known) throw new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
      throw new CrowdtrainError('NO_ACTIVE_RUN', `run ${runId} is not training on this coordinator (status ${known.status})`);
    }
    return run.stop('stopped', detail);
  }

  /** Pauses the active run `runId` (no update is applied until it is unpaused). */
  async pauseRun(runId: string): Promise<void> {
    await this.requireActive(runId).pause();
  }

  /** Continues the paused active run `runId`. */
  async unpauseRun(runId: string): Promise<void> {
    const run = this.requireActive(runId);
    if (!run.isPaused) throw new CrowdtrainError('INVALID_CONFIG', `run ${runId} is not paused`);
    await run.unpause();
  }

  private requireActive(runId: string): RunSession {
    const run = this.activeRun;
    if (!run || run.runId !== runId) throw new CrowdtrainError('NO_ACTIVE_RUN', `run ${runId} is not training on this coordinator`);
    return run;
  }

  /** The active run session, if any. */
  get activeRun(): RunSession | null {
    return this.session && !this.session.isEnded ? this.session : null;
  }

  /** Connected workers with their live statistics. */
  workers(): WorkerInfo[] {
    return [...this.workerInfo.values()];
  }

  /**
   * Creates a tracked run from a validated config and starts training it on the fleet.
   * Only one run trains at a time.
   */
  async startRun(config: RunConfig): Promise<RunSession> {
    if (this.activeRun) throw new CrowdtrainError('INVALID_CONFIG', `run ${this.activeRun.runId} is still active; stop it first`);
    modeOf(config, this.modes);
    const exp = await this.store.ensureExperiment(config.experiment);
    const run = await this.store.createRun({
      experimentId: exp.id,
      name: config.name,
      mode: config.mode,
      config,
      seed: config.seed,
      totalUpdates: config.total_updates,
    });
    await this.store.logParams(run.id, { ...config });
    return this.openSession(run.id, config);
  }

  /** Continues a stopped or interrupted run exactly from its latest (or best, or given) checkpoint. */
  /**
   * Resumes a run from a checkpoint. `latest` takes the newest valid one: a missing, torn, corrupt
   * or invalid latest is skipped for the next older one (each skip is reported through
   * `opts.onSkipped` and listed in the `resumed` Event); `best` or a step is strict.
   */
  async resumeRun(
    runId: string,
    which: 'latest' | 'best' | number = 'latest',
    opts: { onSkipped?: (skipped: SkippedCheckpoint[]) => void } = {},
  ): Promise<RunSession> {
    if (this.activeRun) throw new CrowdtrainError('INVALID_CONFIG', `run ${this.activeRun.runId} is still active; stop it first`);
    const run = await this.store.getRun(runId);
    if (!run) throw new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
    const config = validateRunConfig(JSON.parse(run.config) as unknown, this.modes);
    let ckpt: CheckpointContent;
    let skipped: SkippedCheckpoint[] = [];
    if (which === 'latest') ({ checkpoint: ckpt, skipped } = await loadNewestValidCheckpoint(this.store, runId));
    else ckpt = await loadRunCheckpoint(this.store, runId, which);
    if (skipped.length > 0) {
      debug('resume of run %s skipped checkpoints: %o', runId, skipped);
      opts.onSkipped?.(skipped);
    }
    // The session is built (and the checkpoint checked against the config) first: a refused
    // resume leaves the run's records exactly as they were.
    return this.openSession(runId, config, ckpt, async () => {
      // Metrics logged after the checkpoint belong to the lost timeline: rewind them.
      await this.store.rewindMetrics(runId, ckpt.step);
      await this.store.recordEvent({ runId, kind: 'resumed', detail: { fromStep: ckpt.step, which, ...(which === 'latest' ? { skipped } : {}) } });
    });
  }

  private async openSession(
    runId: string,
    config: RunConfig,
    resumeFrom?: Awaited<ReturnType<typeof loadRunCheckpoint>>,
    beforeStart?: () => Promise<void>,
  ): Promise<RunSession> {
    const session = await RunSession.open({
      runId,
      config,
      store: this.store,
      dataDir: this.opts.dataDir,
      modes: this.modes,
      resumeFrom,
      onProgress: (p) => {
        this.opts.onRunProgress?.(p);
        this.events.emit('progress', p);
      },
      onUpdateApplied: (u) => {
        const total = u.slices.reduce((a, sl) => a + sl.indices.length, 0);
        const shares = new Map(u.slices.map((sl) => [sl.workerId, sl.indices.length / Math.max(total, 1)]));
        for (const info of this.workerInfo.values()) {
          const share = shares.get(info.id);
          if (share !== undefined) info.share = share;
          else if (info.share !== null) info.share = 0;
        }
        this.events.emit('update', u);
      },
      onCheckpoint: (c) => this.events.emit('checkpoint', c),
      onMetrics: (runId, points) => this.events.emit('metrics', runId, points),
      onWorkerAgreement: (a) => {
        const info = this.workerInfo.get(a.workerId);
        if (!info) return;
        info.gradientAgreement = a.agreement;
        info.gradientOutlier = a.flagged;
      },
    });
    try {
      await beforeStart?.();
      await this.store.setRunStatus(runId, 'running');
    } catch (err) {
      session.discard();
      throw err;
    }
    this.session = session;
    session.start();
    for (const [id, socket] of this.sockets) void session.addWorker(this.handleFor(id, socket));
    void session.done.then((o: RunOutcome) => {
      debug('run %s ended: %o', runId, o);
      this.events.emit('run-ended', runId, o);
    });
    return session;
  }

  private handleFor(id: string, socket: CoordinatorSocket): WorkerHandle {
    const timeout = this.opts.assignTimeoutMs ?? 120_000;
    return {
      id,
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
      evict: (reason) => {
        socket.emit('crowdtrain:error', { code: ErrorCode.NOT_ASSIGNED, message: `evicted: ${reason}` });
        socket.disconnect(true);
      },
    };
  }

  private onConnection(socket: CoordinatorSocket): void {
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
        if (this.sockets.has(id)) id = `${id}-${randomUUID().slice(0, 4)}`;
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
          share: null,
        });
        try {
          await this.store.upsertWorker({ id, kind: hello.kind, backend: hello.backend, deviceInfo: hello.deviceInfo, userAgent: hello.userAgent, name });
          await this.workerEvents.record({ runId: this.activeRun?.runId, workerId: id, kind: 'worker_joined', detail: { kind: hello.kind, backend: hello.backend, name } });
        } catch (err) {
          debug('could not record worker %s: %O', id, err);
        }
        ack({ ok: true, workerId: id, protocolVersion: PROTOCOL_VERSION });
        const joined = this.workerInfo.get(id);
        if (joined) this.events.emit('worker-joined', joined);
        const run = this.activeRun;
        if (run) void run.addWorker(this.handleFor(id, socket));
      })().catch((err: unknown) => debug('hello failed: %O', err));
    });

    socket.on('grad:chunk', (raw) => {
      const id = socket.data.workerId;
      if (!id) return strike('grad:chunk before worker:hello');
      const info = this.workerInfo.get(id);
      if (info) info.lastSeenAt = new Date();
      this.activeRun?.receiveChunk(id, raw);
    });

    socket.on('grad:commit', (raw, ack) => {
      void (async () => {
        if (typeof ack !== 'function') return strike('grad:commit needs an acknowledgement callback');
        const id = socket.data.workerId;
        const run = this.activeRun;
        if (!id) {
          ack({ ok: false, error: { code: ErrorCode.NOT_ASSIGNED, message: 'send worker:hello first' } });
          return strike('grad:commit before worker:hello');
        }
        if (!run) {
          ack({ ok: false, error: { code: ErrorCode.NO_ACTIVE_RUN, message: 'no run is active' } });
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
      const run = this.activeRun;
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

  private dropWorker(socket: CoordinatorSocket, reason: string): void {
    const id = socket.data.workerId;
    if (!id || this.sockets.get(id) !== socket) return;
    this.sockets.delete(id);
    this.workerInfo.delete(id);
    const run = this.activeRun;
    run?.removeWorker(id, reason);
    this.events.emit('worker-left', id, reason);
    void (async () => {
      await this.store.markWorkerLeft(id);
      await this.workerEvents.record({ runId: run?.runId, workerId: id, kind: 'worker_left', detail: { reason } });
    })().catch((err: unknown) => debug('could not record leave of %s: %O', id, err));
  }

  /** Stops the active run (checkpointing), disconnects workers and closes the server. */
  async close(): Promise<void> {
    const run = this.activeRun;
    if (run) await run.stop('signal', 'coordinator shutting down');
    await new Promise<void>((resolve) => {
      void this.io.close(() => resolve());
    });
    this.server.closeAllConnections();
    // Summary rows of coalesced events still in their window.
    await this.workerEvents.flush().catch((err: unknown) => debug('could not flush coalesced events: %O', err));
  }
}

function rejectHandshake(code: ErrorCode, message: string): Error {
  const err = new Error(message) as Error & { data: { code: ErrorCode; message: string } };
  err.data = { code, message };
  return err;
}
