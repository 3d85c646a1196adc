import http from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import createDebug from 'debug';
import { toWireError } from '../core/protocol/errors.ts';
import type { RunConfig } from '../core/config/run-config.ts';
import { TRAINING_MODES } from '../core/run/modes.ts';
import type { ModeRegistry } from '../core/run/training-mode.ts';
import type { Database } from '../prisma/db.ts';
import { TrackingStore } from '../prisma/queries/tracking-store.ts';
import type { WorkerInfo } from './worker-info.ts';

export type { WorkerInfo } from './worker-info.ts';
import type { SkippedCheckpoint } from './run/run-checkpointer.ts';
import type { AppliedUpdate, MetricPoint, RunOutcome, RunProgress, RunSession } from './run/run-session.ts';
import { createHttpRouter } from './http/router.ts';
import type { ConnectionLimits } from './fleet/connection-guard.ts';
import { FleetScheduler } from './fleet/fleet-scheduler.ts';
import { ShardOwnerPool } from './shard/shard-owner-pool.ts';
import { WorkerSockets, type WorkerSocketServer } from './fleet/worker-sockets.ts';
import { LeaseQueries } from '../prisma/queries/lease-queries.ts';
import { coordinatorIdentity, type LeaseIdentity } from './run/run-lease.ts';
import { RunRegistry } from './run/run-registry.ts';
import { servedHostNames } from './http/request-guard.ts';
import { DEFAULT_MAX_UPLOAD_BYTES } from './data/table-uploads.ts';

export { DEFAULT_MAX_ACTIVE_RUNS } from './run/run-registry.ts';

const debug = createDebug('crowdtrain:coordinator');

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
  /** How many runs may train at once on this coordinator (DEFAULT_MAX_ACTIVE_RUNS). */
  maxActiveRuns?: number;
  /** Memory for one round's results per run (RESULT_MEMORY_BYTES); it caps the workers a run takes. */
  resultMemoryBytes?: number;
  /** Most bytes one uploaded table may have (DEFAULT_MAX_UPLOAD_BYTES, `--max-upload-mb`). */
  maxUploadBytes?: number;
  /** Lifetime of a run's lease without a heartbeat (DEFAULT_LEASE_TTL_MS); tests shorten it. */
  leaseTtlMs?: number;
  onRunProgress?(p: RunProgress): void;
}

/**
 * One coordinator process: HTTP (API + dashboard) and Socket.io on one port, the worker fleet
 * ({@link WorkerSockets}) and every active run session ({@link RunRegistry}, `runId → session`);
 * the {@link FleetScheduler} places the fleet over the active runs and moves workers between them
 * without disconnecting them.
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
  /** The HTTP server (bench/support/fleet-sim-probe.ts reads this field). */
  private readonly server: http.Server;
  /** The Socket.io server of {@link fleet} (bench/support/coordinator-traffic-tap.ts reads this field). */
  private readonly io: WorkerSocketServer;
  /** The worker sockets: handshakes, messages, live worker statistics. */
  private readonly fleet: WorkerSockets;
  /** The active runs: starts, resumes, leases, the active-run limit. */
  private readonly runs: RunRegistry;
  private readonly scheduler: FleetScheduler;
  /** Shard owners on `/shard` (mode: sharded); created with the fleet, read by sessions when a sharded run starts. */
  private ownerPool!: ShardOwnerPool;
  private identity!: LeaseIdentity;
  private urlValue = '';

  private constructor(private readonly opts: CoordinatorOptions) {
    this.store = new TrackingStore(opts.db, { modes: Object.keys(this.modes) });
    this.scheduler = new FleetScheduler({
      handleFor: (id) => this.fleet.handleFor(id),
      backendOf: (id) => this.fleet.backendOf(id),
      onMove: (m) => this.fleet.onWorkerMoved(m),
    });
    this.runs = new RunRegistry({
      store: this.store,
      leases: new LeaseQueries(opts.db.prisma),
      identity: () => this.identity,
      scheduler: this.scheduler,
      modes: this.modes,
      dataDir: opts.dataDir,
      maxActiveRuns: opts.maxActiveRuns,
      resultMemoryBytes: opts.resultMemoryBytes,
      leaseTtlMs: opts.leaseTtlMs,
      shardOwners: () => this.ownerPool,
      sessionEvents: {
        onProgress: (p) => {
          this.opts.onRunProgress?.(p);
          this.events.emit('progress', p);
        },
        onUpdateApplied: (u) => {
          this.fleet.creditUpdate(u);
          this.events.emit('update', u);
        },
        onCheckpoint: (c) => this.events.emit('checkpoint', c),
        onMetrics: (runId, points) => this.events.emit('metrics', runId, points),
        onWorkerAgreement: (a) => this.fleet.recordAgreement(a),
      },
      onRunEnded: (runId, o) => this.events.emit('run-ended', runId, o),
    });
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
    this.fleet = new WorkerSockets({
      server: this.server,
      workerToken: opts.workerToken,
      connectionLimits: opts.connectionLimits,
      assignTimeoutMs: opts.assignTimeoutMs,
      store: this.store,
      scheduler: this.scheduler,
      sessionOf: (runId) => this.runs.session(runId),
      onWorkerJoined: (info) => this.events.emit('worker-joined', info),
      onWorkerLeft: (id, reason) => this.events.emit('worker-left', id, reason),
    });
    this.io = this.fleet.io;
    this.ownerPool = new ShardOwnerPool({ namespace: this.fleet.shardNamespace, onJoined: (conn) => this.fleet.ownerJoined(conn) });
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
    c.identity = await coordinatorIdentity(opts.dataDir, c.urlValue);
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

  /** Most bytes one uploaded table may have. */
  get maxUploadBytes(): number {
    return this.opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  }
  /**
   * Gracefully stops the active run `runId` (checkpointing) and resolves with its outcome; throws
   * RUN_NOT_FOUND / NO_ACTIVE_RUN naming the run otherwise.
   */
  async stopRun(runId: string, detail = 'stopped through the API'): Promise<RunOutcome> {
    return this.runs.stop(runId, detail);
  }

  /** Pauses the active run `runId` (no update is applied until it is unpaused); its workers may serve other runs meanwhile. */
  async pauseRun(runId: string): Promise<void> {
    await this.runs.pause(runId);
  }

  /** Continues the paused active run `runId`. */
  async unpauseRun(runId: string): Promise<void> {
    await this.runs.unpause(runId);
  }

  /** Every active run session, in start order. */
  activeRuns(): RunSession[] {
    return this.runs.active();
  }

  /** The active session of run `runId`, or null when it is not training here. */
  activeSession(runId: string): RunSession | null {
    return this.runs.session(runId);
  }

  /** The run a connected worker serves now (null: idle or unknown). */
  runOfWorker(workerId: string): string | null {
    return this.scheduler.runOf(workerId);
  }

  /**
   * How run `session` ends on this coordinator: its own outcome, or, when it failed in a way a
   * rewind to its last checkpoint repairs (a sharded run that lost a range), the outcome of the
   * sessions that resume it (see RunRegistry's rewinds).
   */
  outcomeOf(session: Pick<RunSession, 'runId' | 'done'>): Promise<RunOutcome> {
    let onEnded: (runId: string, o: RunOutcome) => void = () => undefined;
    const ended = new Promise<RunOutcome>((resolve) => {
      onEnded = (runId, o) => {
        if (runId === session.runId) resolve(o);
      };
      this.events.on('run-ended', onEnded);
    });
    return session.done
      .then((o) => (o.rewind === true ? ended : o))
      .finally(() => this.events.off('run-ended', onEnded));
  }

  /** Connected shard owners (mode: sharded), by id and name. */
  shardOwners(): { id: string; name: string }[] {
    return this.ownerPool.list();
  }

  /** Connected workers with their live statistics. */
  workers(): WorkerInfo[] {
    return this.fleet.workers();
  }

  /**
   * Creates a tracked run from a validated config and starts training it on the fleet, beside the
   * runs already active (up to maxActiveRuns); placement gives it workers.
   */
  async startRun(config: RunConfig): Promise<RunSession> {
    return this.runs.start(config);
  }

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
    return this.runs.resume(runId, which, opts);
  }

  /** Stops every active run (checkpointing), disconnects workers and closes the server. */
  async close(): Promise<void> {
    await this.runs.shutDown();
    await this.fleet.close();
    this.server.closeAllConnections();
    // Summary rows of coalesced events still in their window.
    await this.fleet.flushEvents();
  }
}
