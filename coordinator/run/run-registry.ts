import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { storedRunConfig, validateRunConfig, type RunConfig } from '../../core/config/run-config.ts';
import { modeOf } from '../../core/run/modes.ts';
import type { ModeRegistry } from '../../core/run/training-mode.ts';
import type { LeaseQueries } from '../../prisma/queries/lease-queries.ts';
import type { RunWithExperiment, TrackingStore } from '../../prisma/queries/tracking-store.ts';
import type { FleetScheduler } from '../fleet/fleet-scheduler.ts';
import type { CheckpointContent } from './checkpoint-file.ts';
import { loadNewestValidCheckpoint, type SkippedCheckpoint } from './run-checkpointer.ts';
import { DEFAULT_LEASE_TTL_MS, RunLease, type LeaseIdentity } from './run-lease.ts';
import { RunModel } from './run-model.ts';
import type { ShardOwners } from '../../core/shard/shard-owners.ts';
import { RunSession, checkResultMemory, loadRunCheckpoint, type RunOutcome, type RunSessionOptions } from './run-session.ts';

const debug = createDebug('crowdtrain:coordinator');

/** How many runs may train at once by default (each holds its model, data and optimizer in memory). */
export const DEFAULT_MAX_ACTIVE_RUNS = 16;

/** The session callbacks every run the registry opens gets (progress, updates, checkpoints, metrics, agreement). */
export type RunSessionEvents = Pick<RunSessionOptions, 'onProgress' | 'onUpdateApplied' | 'onCheckpoint' | 'onMetrics' | 'onWorkerAgreement'>;

/** Which checkpoint a resume continues from: the newest valid one, the best one, or the one of a step. */
export type ResumeWhich = 'latest' | 'best' | number;

/** Options of a resume. */
export interface ResumeOptions {
  /** Called with the checkpoints a `latest` resume skipped (missing, torn, corrupt or invalid). */
  onSkipped?: (skipped: SkippedCheckpoint[]) => void;
}

/** Rewinds to a checkpoint one run may take on one coordinator before its failure stands. */
export const MAX_REWINDS = 3;

/** What the run registry needs from the coordinator that owns it. */
export interface RunRegistryOptions {
  store: TrackingStore;
  /** The lease rows (one coordinator trains a run at a time). */
  leases: LeaseQueries;
  /** This coordinator's lease identity (known once it listens). */
  identity(): LeaseIdentity;
  /** Told when a run starts, ends, pauses or continues. */
  scheduler: Pick<FleetScheduler, 'addRun' | 'removeRun' | 'runChanged'>;
  /** The training modes run configs may name. */
  modes: ModeRegistry;
  /** The data directory (checkpoints live under `<dataDir>/checkpoints`). */
  dataDir: string;
  /** How many runs may train at once (DEFAULT_MAX_ACTIVE_RUNS). */
  maxActiveRuns?: number;
  /** Memory for one round's results per run (RESULT_MEMORY_BYTES); it caps the workers a run takes. */
  resultMemoryBytes?: number;
  /** Lifetime of a run's lease without a heartbeat (DEFAULT_LEASE_TTL_MS). */
  leaseTtlMs?: number;
  /** The shard owners sessions of `mode: sharded` use (read when a session opens). */
  shardOwners?: () => ShardOwners;
  /** Callbacks given to every session opened. */
  sessionEvents: RunSessionEvents;
  /** A session ended (it is no longer active nor placed). */
  onRunEnded(runId: string, outcome: RunOutcome): void;
}

/** How to open one session under its lease. */
interface OpenSessionOptions {
  runId: string;
  config: RunConfig;
  /** The run's lease: released when the session ends, or at once if it cannot start. */
  lease: RunLease;
  /** Resume from this checkpoint content (exact continuation). */
  resumeFrom?: CheckpointContent;
  /** Runs after the session is built and before the run is marked running; a throw discards the session. */
  beforeStart?: () => Promise<void>;
  /** The run's model and data, already opened (the session owns it from here). */
  model?: RunModel;
}

/**
 * The runs side of the coordinator: every active run session (`runId → session`, up to
 * maxActiveRuns), the runs being opened, starting a new run (its result memory checked before
 * anything is recorded) and resuming one from a checkpoint, each under the run's lease.
 */
export class RunRegistry {
  /** The active runs (opened and not ended), by id. */
  private readonly sessions = new Map<string, RunSession>();
  /** Runs being opened (a start or resume that has not finished): counted against maxActiveRuns, not resumed twice. */
  private readonly opening = new Set<string>();
  private closing = false;
  /** Rewinds to a checkpoint each run had on this coordinator (bounded by MAX_REWINDS). */
  private readonly rewinds = new Map<string, number>();

  constructor(private readonly opts: RunRegistryOptions) {}

  /** Every active run session, in start order. */
  active(): RunSession[] {
    return [...this.sessions.values()];
  }

  /** The active session of run `runId`, or null when it is not training here. */
  session(runId: string): RunSession | null {
    return this.sessions.get(runId) ?? null;
  }

  /**
   * Gracefully stops the active run `runId` (checkpointing) and resolves with its outcome; throws
   * RUN_NOT_FOUND / NO_ACTIVE_RUN naming the run otherwise.
   */
  async stop(runId: string, detail: string): Promise<RunOutcome> {
    const run = this.sessions.get(runId);
    if (!run) {
      const known = await this.opts.store.getRun(runId);
      if (!known) throw new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
      throw new CrowdtrainError('NO_ACTIVE_RUN', `run ${runId} is not training on this coordinator (status ${known.status})`);
    }
    return run.stop('stopped', detail);
  }

  /** Pauses the active run `runId`; placement may lend its workers to other runs meanwhile. */
  async pause(runId: string): Promise<void> {
    await this.requireActive(runId).pause();
    this.opts.scheduler.runChanged();
  }

  /** Continues the paused active run `runId`. */
  async unpause(runId: string): Promise<void> {
    const run = this.requireActive(runId);
    if (!run.isPaused) throw new CrowdtrainError('INVALID_CONFIG', `run ${runId} is not paused`);
    await run.unpause();
    this.opts.scheduler.runChanged();
  }

  /** Creates a tracked run from a validated config and starts training it beside the active runs. */
  async start(config: RunConfig): Promise<RunSession> {
    modeOf(config, this.opts.modes);
    const slot = this.reserveSlot();
    try {
      return await this.createAndOpen(config);
    } finally {
      this.opening.delete(slot);
    }
  }

  /**
   * Resumes a run from a checkpoint. `latest` takes the newest valid one: a missing, torn, corrupt
   * or invalid latest is skipped for the next older one (each skip is reported through
   * `opts.onSkipped` and listed in the `resumed` Event); `best` or a step is strict.
   */
  async resume(runId: string, which: ResumeWhich, opts: ResumeOptions): Promise<RunSession> {
    if (this.sessions.has(runId)) throw new CrowdtrainError('RUN_CONFLICT', `run ${runId} is already training on this coordinator`);
    if (this.opening.has(runId)) throw new CrowdtrainError('RUN_CONFLICT', `run ${runId} is already being started or resumed`);
    const slot = this.reserveSlot(runId);
    try {
      return await this.resumeReserved(runId, which, opts);
    } finally {
      this.opening.delete(slot);
    }
  }

  /**
   * A session failed in a way its last checkpoint repairs (a sharded run lost every holder of a
   * range): records `run_rewound` and resumes the run from its newest valid checkpoint, at most
   * MAX_REWINDS times per run on this coordinator; the run ends (onRunEnded) only when a rewind is
   * not possible or not allowed any more, with a reason that says so.
   */
  private async rewind(runId: string, failed: RunOutcome): Promise<void> {
    const done = this.rewinds.get(runId) ?? 0;
    const end = (reason: string) => this.opts.onRunEnded(runId, { ...failed, rewind: false, reason });
    if (done >= MAX_REWINDS) {
      end(`${failed.reason}; not rewound: ${MAX_REWINDS} rewinds to a checkpoint already (resume it with npm start -- --resume ${runId})`);
      return;
    }
    this.rewinds.set(runId, done + 1);
    try {
      await this.opts.store.recordEvent({ runId, kind: 'run_rewound', detail: { reason: failed.reason, atStep: failed.step, rewind: done + 1, of: MAX_REWINDS } });
      const session = await this.resume(runId, 'latest', {});
      debug('run %s rewound to its last checkpoint (session %s)', runId, session.runId);
    } catch (err) {
      end(`${failed.reason}; the rewind to the last checkpoint failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Refuses new starts and resumes, and stops every active run (checkpointing). */
  async shutDown(): Promise<void> {
    this.closing = true;
    await Promise.all(this.active().map((run) => run.stop('signal', 'coordinator shutting down')));
  }

  private requireActive(runId: string): RunSession {
    const run = this.sessions.get(runId);
    if (!run) throw new CrowdtrainError('NO_ACTIVE_RUN', `run ${runId} is not training on this coordinator`);
    return run;
  }

  /**
   * Reserves a place among the active runs, synchronously (two concurrent starts cannot both pass
   * a full check); the caller deletes the returned key once its session is registered or failed.
   */
  private reserveSlot(key = `start-${randomUUID()}`): string {
    if (this.closing) throw new CrowdtrainError('RUN_CONFLICT', 'the coordinator is shutting down');
    const max = this.opts.maxActiveRuns ?? DEFAULT_MAX_ACTIVE_RUNS;
    if (this.sessions.size + this.opening.size >= max) {
      throw new CrowdtrainError('RUN_CONFLICT', `${this.sessions.size + this.opening.size} runs are training or starting (the limit is ${max}, --max-active-runs); stop one first`);
    }
    this.opening.add(key);
    return key;
  }

  private async createAndOpen(config: RunConfig): Promise<RunSession> {
    const { store } = this.opts;
    // The data set loads and the model builds first: a config that cannot train (a bad csv file,
    // say) is refused with nothing recorded.
    const model = await RunModel.open(config);
    let runId: string | undefined;
    let lease: RunLease;
    try {
      checkResultMemory(config, model.paramCount, this.opts.resultMemoryBytes);
      const exp = await store.ensureExperiment(config.experiment);
      const run = await store.createRun({
        experimentId: exp.id,
        name: config.name,
        mode: config.mode,
        // Durations as "<n>ms": a resume validates the stored config again and gets the same values.
        config: storedRunConfig(config),
        seed: config.seed,
        totalUpdates: config.total_updates,
      });
      runId = run.id;
      const info = model.datasetInfo;
      // The data set version the run trains on (MLflow's log_input): content hash, files, rows, fitted transform.
      await store.logParams(runId, { ...config, ...(info ? { dataset_info: { sha256: info.sha256, files: info.files, rows: info.rows, transform: info.transform } } : {}) });
      // The data set version (Dataset / DatasetVersion rows, created when new) and the run's link to it.
      await store.logRunInputs(runId, [model.datasetInput]);
      lease = await this.takeLease(runId);
    } catch (err) {
      model.dispose();
      // A run row created before the failure is marked failed with the reason, not left queued.
      if (runId !== undefined) {
        const reason = err instanceof Error ? err.message : String(err);
        await store.setRunStatus(runId, 'failed', { error: reason }).catch((e: unknown) => debug('could not mark run %s failed: %O', runId, e));
      }
      throw err;
    }
    return this.openSession({ runId, config, lease, model });
  }

  /** Takes the run's lease (RUN_CONFLICT naming the holder when another live coordinator trains it). */
  private takeLease(runId: string): Promise<RunLease> {
    return RunLease.take(this.opts.leases, runId, this.opts.identity(), this.opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS, (reason) => {
      debug('run %s: %s', runId, reason);
      this.sessions.get(runId)?.abandon(reason);
    });
  }

  private async resumeReserved(runId: string, which: ResumeWhich, opts: ResumeOptions): Promise<RunSession> {
    const run = await this.opts.store.getRun(runId);
    if (!run) throw new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
    const lease = await this.takeLease(runId);
    try {
      return await this.resumeLeased(run, which, opts, lease);
    } catch (err) {
      await lease.release().catch((e: unknown) => debug('could not release the lease of %s: %O', runId, e));
      throw err;
    }
  }

  /** Opens the resumed session of `run` (the row read once, before its lease was taken). */
  private async resumeLeased(run: RunWithExperiment, which: ResumeWhich, opts: ResumeOptions, lease: RunLease): Promise<RunSession> {
    const { store } = this.opts;
    const runId = run.id;
    const config = validateRunConfig(JSON.parse(run.config) as unknown, this.opts.modes);
    let ckpt: CheckpointContent;
    let skipped: SkippedCheckpoint[] = [];
    if (which === 'latest') ({ checkpoint: ckpt, skipped } = await loadNewestValidCheckpoint(store, runId));
    else ckpt = await loadRunCheckpoint(store, runId, which);
    if (skipped.length > 0) {
      debug('resume of run %s skipped checkpoints: %o', runId, skipped);
      opts.onSkipped?.(skipped);
    }
    // The session is built (and the checkpoint checked against the config) first: a refused
    // resume leaves the run's records exactly as they were.
    return this.openSession({
      runId,
      config,
      lease,
      resumeFrom: ckpt,
      beforeStart: async () => {
        // Metrics logged after the checkpoint belong to the lost timeline: rewound, with the
        // `resumed` Event and the running status, in one transaction.
        await store.recordResume(runId, ckpt.step, { which, ...(which === 'latest' ? { skipped } : {}) });
      },
    });
  }

  /** Opens and starts a session under its lease; the lease is released when the session ends, or now if it cannot start. */
  private async openSession(o: OpenSessionOptions): Promise<RunSession> {
    let session: RunSession;
    try {
      session = await this.openLeased(o);
    } catch (err) {
      await o.lease.release().catch((e: unknown) => debug('could not release the lease of %s: %O', o.runId, e));
      throw err;
    }
    void session.done.then(() => o.lease.release()).catch((e: unknown) => debug('could not release the lease of %s: %O', o.runId, e));
    return session;
  }

  private async openLeased({ runId, config, resumeFrom, beforeStart, model }: OpenSessionOptions): Promise<RunSession> {
    const { store } = this.opts;
    const session = await RunSession.open({
      runId,
      config,
      model,
      resultMemoryBytes: this.opts.resultMemoryBytes,
      store,
      dataDir: this.opts.dataDir,
      modes: this.opts.modes,
      resumeFrom,
      shardOwners: this.opts.shardOwners?.(),
      ...this.opts.sessionEvents,
    });
    try {
      await beforeStart?.();
      await store.setRunStatus(runId, 'running');
    } catch (err) {
      session.discard();
      throw err;
    }
    this.sessions.set(runId, session);
    session.start();
    this.opts.scheduler.addRun(session);
    void session.done.then((o: RunOutcome) => {
      debug('run %s ended: %o', runId, o);
      this.sessions.delete(runId);
      this.opts.scheduler.removeRun(runId);
      if (o.status === 'failed' && o.rewind === true && !this.closing) void this.rewind(runId, o);
      else this.opts.onRunEnded(runId, o);
    });
    return session;
  }
}
