import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import createDebug from 'debug';
import { z } from 'zod';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { EXTERNAL_RUN_MODE, MODE_NAMES } from '../../core/run/modes.ts';
import { WorkerKindSchema } from '../../core/protocol/messages.ts';
import type { Database, TrackingPrismaClient } from '../db.ts';
import type { Checkpoint, Contribution, Experiment, Run, Worker } from '../generated/sqlite/client.ts';

const debug = createDebug('crowdtrain:db:tracking');

/** Run lifecycle states stored in `Run.status`. */
export const RunStatusSchema = z.enum(['queued', 'running', 'paused', 'finished', 'failed', 'stopped']);
/** One of the run lifecycle states. */
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** A training mode's name as stored in `Run.mode`: a key of the mode registry (`core/run/modes.ts`). */
export type RunMode = string;

/** Worker kinds stored in `Worker.kind`: the protocol's one list. */
export { WorkerKindSchema } from '../../core/protocol/messages.ts';
/** One of the worker kinds. */
export type WorkerKind = z.infer<typeof WorkerKindSchema>;

/** API token scopes; an admin token also satisfies the worker scope. */
export const TokenScopeSchema = z.enum(['worker', 'admin']);
/** One of the API token scopes. */
export type TokenScope = z.infer<typeof TokenScopeSchema>;

const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['finished', 'failed', 'stopped']);

/** A run row with its status and mode narrowed to their unions. */
export type RunRecord = Omit<Run, 'status' | 'mode'> & { status: RunStatus; mode: RunMode };
/** A run row with its experiment. */
export type RunWithExperiment = RunRecord & { experiment: Experiment };
/** A worker row with its kind narrowed. */
export type WorkerRecord = Omit<Worker, 'kind'> & { kind: WorkerKind };
/** A contribution row with byte and sample counters as plain (JSON-safe) numbers. */
export type ContributionRecord = Omit<Contribution, 'bytesIn' | 'bytesOut' | 'samples'> & {
  samples: number;
  bytesIn: number;
  bytesOut: number;
};
/** A checkpoint row with its size as a plain (JSON-safe) number. */
export type CheckpointRecord = Omit<Checkpoint, 'sizeBytes'> & { sizeBytes: number };
/** One point of a metric curve. */
export interface MetricPointRecord {
  step: number;
  value: number;
  time: Date;
}
/** An event with its JSON detail parsed back. */
export interface EventRecord {
  id: number;
  runId: string | null;
  workerId: string | null;
  time: Date;
  kind: string;
  detail: unknown;
}

/** Arguments of {@link TrackingStore.createRun}. */
export interface CreateRunInput {
  experimentId: string;
  name: string;
  mode: RunMode;
  /** Any JSON-serialisable value; stored as JSON text. */
  config: unknown;
  seed: number;
  totalUpdates: number;
  description?: string;
  sweepId?: string;
  resumedFromRunId?: string;
}

/** One metric value to log. */
export interface MetricPointInput {
  key: string;
  step: number;
  value: number;
  time?: Date;
}

/** Arguments of {@link TrackingStore.upsertWorker}. */
export interface UpsertWorkerInput {
  id: string;
  kind: WorkerKind;
  backend: string;
  /** Any JSON-serialisable description of the device (adapter, cores, memory...). */
  deviceInfo: unknown;
  userAgent?: string;
  name?: string;
}

/** Counter increments of {@link TrackingStore.addContribution}; all default to 0. */
export interface ContributionDelta {
  steps?: number;
  samples?: number;
  bytesIn?: number;
  bytesOut?: number;
  rejected?: number;
  rejectReason?: string;
}

/** Arguments of {@link TrackingStore.recordEvent}. */
export interface RecordEventInput {
  runId?: string | null;
  workerId?: string | null;
  kind: string;
  detail?: unknown;
}

/** Arguments of {@link TrackingStore.addCheckpoint}. */
export interface AddCheckpointInput {
  runId: string;
  step: number;
  path: string;
  sha256: string;
  sizeBytes: number;
  isBest?: boolean;
  metricValue?: number;
}

/** Filters and paging of {@link TrackingStore.listRuns}. */
export interface ListRunsInput {
  experimentId?: string;
  status?: RunStatus;
  /** Page size, 1..1000 (default 100). */
  take?: number;
  skip?: number;
}

/** Sortable columns of {@link TrackingStore.searchRuns}. */
export const RunSortSchema = z.enum(['createdAt', 'name', 'status', 'step', 'startedAt']);

/** Filters, sorting and paging of {@link TrackingStore.searchRuns}. */
export interface SearchRunsInput {
  status?: RunStatus;
  /** Experiment name (exact). */
  experiment?: string;
  /** Substring of the run name. */
  q?: string;
  /** Only runs whose param `key` has exactly this text value. */
  param?: { key: string; value: string };
  /** Only runs that logged metric `key` with some value >= min (and/or <= max). */
  metric?: { key: string; min?: number; max?: number };
  sort?: z.infer<typeof RunSortSchema>;
  order?: 'asc' | 'desc';
  /** Page size, 1..1000 (default 50). */
  take?: number;
  skip?: number;
}

/** Count, last value and extremes of one metric of one run. */
export interface MetricSummaryRecord {
  runId: string;
  key: string;
  count: number;
  lastStep: number;
  last: number;
  min: number;
  max: number;
}

/** A run's contribution joined with its worker row (kind, backend, device, last seen). */
export type FleetEntryRecord = ContributionRecord & { worker: WorkerRecord };

/** What {@link TrackingStore.verifyApiToken} returns for a valid token. */
export interface VerifiedToken {
  id: string;
  name: string;
  scope: TokenScope;
}

/**
 * Experiment tracking on top of the tracking database: experiments, runs, params, metrics,
 * workers, contributions, checkpoints, events and API tokens. Provider-agnostic (SQLite and
 * PostgreSQL run the same code). Invalid values throw CrowdtrainError naming them.
 * @example
 * const store = new TrackingStore(await openDatabase({ url }));
 * const { id } = await store.ensureExperiment('mnist');
 * const run = await store.createRun({ experimentId: id, name: 'mlp', mode: 'ddp', config, seed: 42, totalUpdates: 500 });
 * await store.logMetrics(run.id, [{ key: 'loss', step: 1, value: 2.3 }]);
 */
export class TrackingStore {
  private readonly prisma: TrackingPrismaClient;
  private readonly modes: readonly string[];

  /** `modes`: the mode names new runs may have (the built-in registry's by default; `external` always). */
  constructor(db: Database, opts: { modes?: readonly string[] } = {}) {
    this.prisma = db.prisma;
    this.modes = [...(opts.modes ?? MODE_NAMES), EXTERNAL_RUN_MODE];
  }

  /** Returns the experiment with this name, creating it when missing (description only on creation). */
  async ensureExperiment(name: string, description?: string): Promise<{ id: string }> {
    requireText('experiment name', name);
    const existing = await this.prisma.experiment.findUnique({ where: { name }, select: { id: true } });
    if (existing) return existing;
    try {
      return await this.prisma.experiment.create({ data: { name, description: description ?? null }, select: { id: true } });
    } catch (err) {
      // Another writer created it between our read and write.
      if (prismaCode(err) !== 'P2002') throw err;
      return this.prisma.experiment.findUniqueOrThrow({ where: { name }, select: { id: true } });
    }
  }

  /** Creates a queued run; `config` is stored as JSON text. */
  async createRun(input: CreateRunInput): Promise<RunRecord> {
    requireText('run name', input.name);
    if (!this.modes.includes(input.mode)) throw invalid(`run mode "${String(input.mode)}" is not one of ${this.modes.join(', ')}`);
    requireInt('seed', input.seed, 0);
    requireInt('totalUpdates', input.totalUpdates, 0);
    try {
      const run = await this.prisma.run.create({
        data: {
          experimentId: input.experimentId,
          name: input.name,
          mode: input.mode,
          config: toJson('run config', input.config),
          seed: input.seed,
          totalUpdates: input.totalUpdates,
          description: input.description ?? null,
          sweepId: input.sweepId ?? null,
          resumedFromRunId: input.resumedFromRunId ?? null,
        },
      });
      return run as RunRecord;
    } catch (err) {
      if (prismaCode(err) === 'P2003') {
        throw new CrowdtrainError(
          'RUN_NOT_FOUND',
          `cannot create run "${input.name}": experiment ${input.experimentId}` +
            `${input.sweepId ? `, sweep ${input.sweepId}` : ''}${input.resumedFromRunId ? ` or run ${input.resumedFromRunId}` : ''} does not exist`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * Moves a run to a status. `running` sets startedAt the first time and clears endedAt/error;
   * finished, failed and stopped set endedAt; `extra.error` records why.
   */
  async setRunStatus(runId: string, status: RunStatus, extra?: { error?: string }): Promise<RunRecord> {
    requireRunStatus(status);
    const run = await this.prisma.run.findUnique({ where: { id: runId }, select: { startedAt: true } });
    if (!run) throw runNotFound(runId);
    const now = new Date();
    const data: { status: RunStatus; startedAt?: Date; endedAt?: Date | null; error?: string | null } = { status };
    if (status === 'running') {
      if (run.startedAt === null) data.startedAt = now;
      data.endedAt = null;
      data.error = null;
    } else if (TERMINAL_STATUSES.has(status)) {
      data.endedAt = now;
    }
    if (extra?.error !== undefined) data.error = extra.error;
    return (await this.prisma.run.update({ where: { id: runId }, data })) as RunRecord;
  }

  /** Records how many updates the run has applied. */
  async setRunProgress(runId: string, step: number): Promise<void> {
    requireInt('step', step, 0);
    const { count } = await this.prisma.run.updateMany({ where: { id: runId }, data: { step } });
    if (count === 0) throw runNotFound(runId);
  }

  /**
   * Logs hyperparameters: nested objects flatten to dotted keys (`optimizer.lr`), arrays and
   * other non-strings are stored as JSON text, strings as is. Re-logging a key overwrites it.
   */
  async logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    const flat = flattenParams(params);
    if (flat.length === 0) return;
    try {
      await this.prisma.$transaction(
        flat.map(([key, value]) =>
          this.prisma.param.upsert({
            where: { runId_key: { runId, key } },
            create: { runId, key, value },
            update: { value },
          }),
        ),
      );
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** The run's params as a flat key -> value map. */
  async getParams(runId: string): Promise<Record<string, string>> {
    const rows = await this.prisma.param.findMany({ where: { runId }, orderBy: { key: 'asc' } });
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /**
   * Writes metric points in one batched, atomic insert. Every point is validated first: a
   * non-finite value (NaN, Infinity) throws NON_FINITE and nothing is written.
   */
  async logMetrics(runId: string, points: readonly MetricPointInput[]): Promise<void> {
    if (points.length === 0) return;
    const now = new Date();
    const data = points.map((p, i) => {
      requireText(`metric key (point ${i})`, p.key);
      if (typeof p.value !== 'number' || !Number.isFinite(p.value)) {
        throw new CrowdtrainError(
          'NON_FINITE',
          `metric "${p.key}" at step ${p.step} has value ${String(p.value)}; metric values must be finite numbers (point ${i} of ${points.length}, nothing written)`,
        );
      }
      requireInt(`step of metric "${p.key}"`, p.step, 0);
      return { runId, key: p.key, step: p.step, value: p.value, time: p.time ?? now };
    });
    try {
      await this.prisma.$transaction([this.prisma.metric.createMany({ data })]);
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** A metric's points in step order. */
  async getMetricHistory(runId: string, key: string): Promise<MetricPointRecord[]> {
    return this.prisma.metric.findMany({
      where: { runId, key },
      orderBy: [{ step: 'asc' }, { id: 'asc' }],
      select: { step: true, value: true, time: true },
    });
  }

  /** The largest value of metric `key` per run, for the given runs (runs without it are absent). */
  async maxMetricByRun(runIds: readonly string[], key: string): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.prisma.metric.groupBy({ by: ['runId'], where: { runId: { in: [...runIds] }, key }, _max: { value: true } });
    const out = new Map<string, number>();
    for (const r of rows) if (r._max.value !== null) out.set(r.runId, r._max.value);
    return out;
  }

  /** The distinct metric keys a run has logged, sorted. */
  async listMetricKeys(runId: string): Promise<string[]> {
    const rows = await this.prisma.metric.findMany({ where: { runId }, distinct: ['key'], select: { key: true }, orderBy: { key: 'asc' } });
    return rows.map((r) => r.key);
  }

  /** Deletes metric points logged after `step` (a resume from a checkpoint at `step` rewrites them); returns how many. */
  async rewindMetrics(runId: string, step: number): Promise<number> {
    requireInt('step', step, 0);
    const { count } = await this.prisma.metric.deleteMany({ where: { runId, step: { gt: step } } });
    return count;
  }

  /** Registers a worker or refreshes it on rejoin (clears leftAt, updates lastSeenAt). */
  async upsertWorker(input: UpsertWorkerInput): Promise<WorkerRecord> {
    requireText('worker id', input.id);
    const kind = WorkerKindSchema.safeParse(input.kind);
    if (!kind.success) throw invalid(`worker kind "${String(input.kind)}" is not one of ${WorkerKindSchema.options.join(', ')}`);
    const now = new Date();
    const fields = {
      kind: kind.data,
      backend: input.backend,
      deviceInfo: toJson('worker deviceInfo', input.deviceInfo ?? null),
      userAgent: input.userAgent ?? null,
      name: input.name ?? null,
      lastSeenAt: now,
    };
    const upsert = () =>
      this.prisma.worker.upsert({
        where: { id: input.id },
        create: { id: input.id, ...fields, joinedAt: now },
        update: { ...fields, leftAt: null },
      });
    try {
      return (await upsert()) as WorkerRecord;
    } catch (err) {
      if (prismaCode(err) !== 'P2002') throw err;
      return (await upsert()) as WorkerRecord;
    }
  }

  /** Marks a worker as gone; returns false when no such worker was registered. */
  async markWorkerLeft(id: string): Promise<boolean> {
    const now = new Date();
    const { count } = await this.prisma.worker.updateMany({ where: { id }, data: { leftAt: now, lastSeenAt: now } });
    return count > 0;
  }

  /** Updates a worker's lastSeenAt; returns false when no such worker was registered. */
  async touchWorker(id: string): Promise<boolean> {
    const { count } = await this.prisma.worker.updateMany({ where: { id }, data: { lastSeenAt: new Date() } });
    return count > 0;
  }

  /** A worker by id, or null. */
  async getWorker(id: string): Promise<WorkerRecord | null> {
    return (await this.prisma.worker.findUnique({ where: { id } })) as WorkerRecord | null;
  }

  /**
   * Adds to a worker's counters on a run with atomic increments (creating the row on first
   * contribution); `rejectReason` replaces the last recorded reason.
   */
  async addContribution(runId: string, workerId: string, delta: ContributionDelta): Promise<void> {
    const steps = countOf('steps', delta.steps);
    const samples = countOf('samples', delta.samples);
    const bytesIn = countOf('bytesIn', delta.bytesIn);
    const bytesOut = countOf('bytesOut', delta.bytesOut);
    const rejected = countOf('rejected', delta.rejected);
    const reason = delta.rejectReason === undefined ? {} : { lastRejectReason: delta.rejectReason };
    const upsert = () =>
      this.prisma.contribution.upsert({
        where: { runId_workerId: { runId, workerId } },
        create: { runId, workerId, steps, samples: BigInt(samples), bytesIn: BigInt(bytesIn), bytesOut: BigInt(bytesOut), rejected, ...reason },
        update: {
          steps: { increment: steps },
          samples: { increment: BigInt(samples) },
          bytesIn: { increment: BigInt(bytesIn) },
          bytesOut: { increment: BigInt(bytesOut) },
          rejected: { increment: rejected },
          ...reason,
        },
      });
    try {
      await upsert();
    } catch (err) {
      if (prismaCode(err) === 'P2002') {
        await upsert(); // lost a create race: the row exists now, so this increments it
        return;
      }
      if (prismaCode(err) === 'P2003') {
        throw new CrowdtrainError('RUN_NOT_FOUND', `cannot record contribution: run ${runId} or worker ${workerId} does not exist`, { cause: err });
      }
      throw err;
    }
  }

  /** The run's contributions, biggest sample count first. */
  async listContributions(runId: string): Promise<ContributionRecord[]> {
    const rows = await this.prisma.contribution.findMany({ where: { runId }, orderBy: [{ samples: 'desc' }, { workerId: 'asc' }] });
    return rows.map((r) => ({ ...r, samples: Number(r.samples), bytesIn: Number(r.bytesIn), bytesOut: Number(r.bytesOut) }));
  }

  /** Appends to the event log; `detail` is stored as JSON (Errors keep name, message and code). */
  async recordEvent(input: RecordEventInput): Promise<{ id: number }> {
    requireText('event kind', input.kind);
    try {
      return await this.prisma.event.create({
        data: {
          runId: input.runId ?? null,
          workerId: input.workerId ?? null,
          kind: input.kind,
          detail: input.detail === undefined ? null : toJson(`detail of event "${input.kind}"`, input.detail),
        },
        select: { id: true },
      });
    } catch (err) {
      throw mapRunError(err, input.runId ?? '(none)');
    }
  }

  /** The run's events in time order, details parsed. */
  async listEvents(runId: string, opts: { take?: number } = {}): Promise<EventRecord[]> {
    const rows = await this.prisma.event.findMany({
      where: { runId },
      orderBy: [{ time: 'asc' }, { id: 'asc' }],
      ...(opts.take === undefined ? {} : { take: opts.take }),
    });
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown) }));
  }

  /**
   * Records a checkpoint as the run's latest (exactly one latest per run); with `isBest` it
   * also becomes the run's only best. Atomic.
   */
  async addCheckpoint(input: AddCheckpointInput): Promise<CheckpointRecord> {
    requireInt('checkpoint step', input.step, 0);
    requireInt('checkpoint sizeBytes', input.sizeBytes, 0);
    requireText('checkpoint path', input.path);
    if (!/^[0-9a-f]{64}$/i.test(input.sha256)) throw invalid(`checkpoint sha256 "${input.sha256}" is not 64 hex digits`);
    if (input.metricValue !== undefined && !Number.isFinite(input.metricValue)) {
      throw new CrowdtrainError('NON_FINITE', `checkpoint metricValue ${input.metricValue} is not finite`);
    }
    const isBest = input.isBest === true;
    const { runId } = input;
    try {
      const ops = [
        this.prisma.checkpoint.updateMany({ where: { runId, isLatest: true }, data: { isLatest: false } }),
        ...(isBest ? [this.prisma.checkpoint.updateMany({ where: { runId, isBest: true }, data: { isBest: false } })] : []),
      ];
      const create = this.prisma.checkpoint.create({
        data: {
          runId,
          step: input.step,
          path: input.path,
          sha256: input.sha256.toLowerCase(),
          sizeBytes: BigInt(input.sizeBytes),
          isLatest: true,
          isBest,
          metricValue: input.metricValue ?? null,
        },
      });
      const results = await this.prisma.$transaction([...ops, create]);
      const created = results[results.length - 1] as Checkpoint;
      return toCheckpointRecord(created);
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** The run's latest or best checkpoint, or the newest one at a given step; null when none. */
  async findCheckpoint(runId: string, which: 'latest' | 'best' | number): Promise<CheckpointRecord | null> {
    let where: { runId: string; isLatest?: boolean; isBest?: boolean; step?: number };
    if (which === 'latest') where = { runId, isLatest: true };
    else if (which === 'best') where = { runId, isBest: true };
    else {
      requireInt('checkpoint step', which, 0);
      where = { runId, step: which };
    }
    const row = await this.prisma.checkpoint.findFirst({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return row === null ? null : toCheckpointRecord(row);
  }

  /**
   * Deletes checkpoint rows of a run by id (retention); ids of other runs and checkpoints a model
   * version was registered from are left alone. Returns the rows it deleted (their files are the
   * caller's to remove, after this). Atomic.
   */
  async deleteCheckpoints(runId: string, ids: readonly string[]): Promise<CheckpointRecord[]> {
    if (ids.length === 0) return [];
    const where = { runId, id: { in: [...ids] }, modelVersions: { none: {} } };
    const rows = await this.prisma.$transaction(async (tx) => {
      const found = await tx.checkpoint.findMany({ where });
      await tx.checkpoint.deleteMany({ where: { runId, id: { in: found.map((r) => r.id) } } });
      return found;
    });
    return rows.map(toCheckpointRecord);
  }

  /** All of a run's checkpoints in step order. */
  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    const rows = await this.prisma.checkpoint.findMany({ where: { runId }, orderBy: [{ step: 'asc' }, { createdAt: 'asc' }] });
    return rows.map(toCheckpointRecord);
  }

  /** A run with its experiment, or null. */
  async getRun(runId: string): Promise<RunWithExperiment | null> {
    return (await this.prisma.run.findUnique({ where: { id: runId }, include: { experiment: true } })) as RunWithExperiment | null;
  }

  /** Runs, newest first, optionally filtered by experiment and status. */
  async listRuns(input: ListRunsInput = {}): Promise<RunWithExperiment[]> {
    const take = input.take ?? 100;
    const skip = input.skip ?? 0;
    requireInt('take', take, 1, 1000);
    requireInt('skip', skip, 0);
    if (input.status !== undefined) requireRunStatus(input.status);
    const rows = await this.prisma.run.findMany({
      where: {
        ...(input.experimentId === undefined ? {} : { experimentId: input.experimentId }),
        ...(input.status === undefined ? {} : { status: input.status }),
      },
      include: { experiment: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take,
      skip,
    });
    return rows as RunWithExperiment[];
  }

  /**
   * Creates an API token and returns it once (32 random bytes, base64url); only its sha256 is stored.
   * @example const { token } = await store.createApiToken('lab-gpu-1', 'worker');
   */
  async createApiToken(name: string, scope: TokenScope): Promise<{ token: string; id: string }> {
    requireText('token name', name);
    const parsed = TokenScopeSchema.safeParse(scope);
    if (!parsed.success) throw invalid(`token scope "${String(scope)}" is not one of ${TokenScopeSchema.options.join(', ')}`);
    const token = randomBytes(32).toString('base64url');
    const row = await this.prisma.apiToken.create({ data: { name, scope: parsed.data, hash: hashToken(token) }, select: { id: true } });
    debug('created %s token %s (%s)', parsed.data, row.id, name);
    return { token, id: row.id };
  }

  /**
   * Checks a presented token: returns its id, name and scope when it exists, is not revoked and
   * covers `scope` (admin covers worker), and records the use; otherwise null.
   */
  async verifyApiToken(token: string, scope?: TokenScope): Promise<VerifiedToken | null> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) return null;
    const hash = hashToken(token);
    const row = await this.prisma.apiToken.findUnique({ where: { hash } });
    if (row === null || row.revokedAt !== null) return null;
    const stored = Buffer.from(row.hash, 'hex');
    const presented = Buffer.from(hash, 'hex');
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return null;
    const rowScope = TokenScopeSchema.safeParse(row.scope);
    if (!rowScope.success) return null;
    if (scope !== undefined && scope !== rowScope.data && rowScope.data !== 'admin') return null;
    await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
    return { id: row.id, name: row.name, scope: rowScope.data };
  }

  /** Revokes a token (idempotent); returns false when no such token exists. */
  async revokeApiToken(id: string): Promise<boolean> {
    const existing = await this.prisma.apiToken.findUnique({ where: { id }, select: { revokedAt: true } });
    if (existing === null) return false;
    if (existing.revokedAt === null) await this.prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    return true;
  }

  /**
   * Runs matching the filters, sorted (default newest first), one page of them, and how many
   * match in all. Uses the Run(status) and Run(experimentId, createdAt) indexes.
   */
  async searchRuns(input: SearchRunsInput = {}): Promise<{ runs: RunWithExperiment[]; total: number }> {
    const take = input.take ?? 50;
    const skip = input.skip ?? 0;
    requireInt('take', take, 1, 1000);
    requireInt('skip', skip, 0);
    if (input.status !== undefined) requireRunStatus(input.status);
    const sort = input.sort ?? 'createdAt';
    if (!RunSortSchema.safeParse(sort).success) throw invalid(`sort "${String(sort)}" is not one of ${RunSortSchema.options.join(', ')}`);
    const order = input.order ?? 'desc';
    const metricValue =
      input.metric === undefined
        ? undefined
        : { ...(input.metric.min === undefined ? {} : { gte: input.metric.min }), ...(input.metric.max === undefined ? {} : { lte: input.metric.max }) };
    const where = {
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.experiment === undefined ? {} : { experiment: { name: input.experiment } }),
      ...(input.q === undefined || input.q === '' ? {} : await this.runNameFilter(input.q)),
      ...(input.param === undefined ? {} : { params: { some: { key: input.param.key, value: input.param.value } } }),
      ...(input.metric === undefined ? {} : { metrics: { some: { key: input.metric.key, value: metricValue } } }),
    };
    const [runs, total] = await Promise.all([
      this.prisma.run.findMany({ where, include: { experiment: true }, orderBy: [{ [sort]: order }, { id: order }], take, skip }),
      this.prisma.run.count({ where }),
    ]);
    return { runs: runs as RunWithExperiment[], total };
  }

  /**
   * The `where` part of a run-name substring search. Prisma's `contains` is a LIKE whose `%` and
   * `_` in the text stay wildcards (a search for `%` matched every run), so a text with `%`, `_` or
   * `\\` narrows by its literal fragments and then matches the whole text literally on the names
   * (case-insensitively, as SQLite's LIKE), giving the matching run ids.
   */
  private async runNameFilter(q: string): Promise<{ name: { contains: string } } | { id: { in: string[] } }> {
    if (!/[%_\\]/.test(q)) return { name: { contains: q } };
    const fragments = q.split(/[%_\\]+/).filter((f) => f !== '');
    const candidates = await this.prisma.run.findMany({
      where: { AND: fragments.map((f) => ({ name: { contains: f } })) },
      select: { id: true, name: true },
    });
    const needle = q.toLowerCase();
    const ids = candidates.filter((r) => r.name.toLowerCase().includes(needle)).map((r) => r.id);
    return { id: { in: ids } };
  }

  /**
   * For each of the runs, each logged metric (or only `keys`): point count, last step and value,
   * min and max. Two grouped queries, whatever the number of runs.
   */
  async summarizeRunMetrics(runIds: readonly string[], keys?: readonly string[]): Promise<MetricSummaryRecord[]> {
    if (runIds.length === 0) return [];
    const where = { runId: { in: [...runIds] }, ...(keys === undefined ? {} : { key: { in: [...keys] } }) };
    const groups = await this.prisma.metric.groupBy({
      by: ['runId', 'key'],
      where,
      _count: { _all: true },
      _min: { value: true },
      _max: { value: true, step: true },
    });
    if (groups.length === 0) return [];
    const lastRows = await this.prisma.metric.findMany({
      where: { OR: groups.map((g) => ({ runId: g.runId, key: g.key, step: g._max.step ?? 0 })) },
      orderBy: { id: 'asc' },
      select: { runId: true, key: true, value: true },
    });
    const last = new Map(lastRows.map((r) => [`${r.runId}\u0000${r.key}`, r.value]));
    return groups.map((g) => ({
      runId: g.runId,
      key: g.key,
      count: g._count._all,
      lastStep: g._max.step ?? 0,
      last: last.get(`${g.runId}\u0000${g.key}`) ?? Number.NaN,
      min: g._min.value ?? Number.NaN,
      max: g._max.value ?? Number.NaN,
    }));
  }

  /** A metric's points with step > `afterStep`, in step order, at most `limit` (1..100000) of them. */
  async getMetricHistoryAfter(runId: string, key: string, afterStep: number, limit = 10_000): Promise<MetricPointRecord[]> {
    requireInt('limit', limit, 1, 100_000);
    if (!Number.isSafeInteger(afterStep) || afterStep < -1) throw invalid(`afterStep must be an integer >= -1, got ${String(afterStep)}`);
    return this.prisma.metric.findMany({
      where: { runId, key, step: { gt: afterStep } },
      orderBy: [{ step: 'asc' }, { id: 'asc' }],
      select: { step: true, value: true, time: true },
      take: limit,
    });
  }

  /** One checkpoint of a run by id, or null (also when it belongs to another run). */
  async getCheckpoint(runId: string, checkpointId: string): Promise<CheckpointRecord | null> {
    const row = await this.prisma.checkpoint.findFirst({ where: { id: checkpointId, runId } });
    return row === null ? null : toCheckpointRecord(row);
  }

  /** How many workers contributed to each of the runs (runs without contributions are absent). */
  async countContributors(runIds: readonly string[]): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const groups = await this.prisma.contribution.groupBy({ by: ['runId'], where: { runId: { in: [...runIds] } }, _count: { _all: true } });
    return new Map(groups.map((g) => [g.runId, g._count._all]));
  }

  /** Every worker that contributed to a run, with its worker row; most samples first. */
  async listFleet(runId: string): Promise<FleetEntryRecord[]> {
    const rows = await this.prisma.contribution.findMany({
      where: { runId },
      include: { worker: true },
      orderBy: [{ samples: 'desc' }, { workerId: 'asc' }],
    });
    return rows.map((r) => ({
      ...r,
      samples: Number(r.samples),
      bytesIn: Number(r.bytesIn),
      bytesOut: Number(r.bytesOut),
      worker: r.worker as WorkerRecord,
    }));
  }
}

/**
 * Flattens params to [dottedKey, text] pairs: plain objects recurse, strings stay as is, every
 * other value (numbers, booleans, null, arrays) becomes JSON text; undefined values are skipped.
 * @example flattenParams({ optimizer: { lr: 0.1 }, layers: [64, 10] }) // [['optimizer.lr','0.1'], ['layers','[64,10]']]
 */
export function flattenParams(params: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(params)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (v === undefined) continue;
    if (isPlainObject(v)) {
      const nested = flattenParams(v, key);
      if (nested.length === 0) out.push([key, '{}']);
      else out.push(...nested);
    } else if (typeof v === 'string') {
      out.push([key, v]);
    } else {
      out.push([key, toJson(`param "${key}"`, v)]);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** JSON text for a value; Errors keep name/message/code, bigints become strings. */
function toJson(what: string, value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) {
        const code = (v as { code?: unknown }).code;
        return { name: v.name, message: v.message, ...(code === undefined ? {} : { code }) };
      }
      return v;
    });
    return text ?? 'null';
  } catch (cause) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${what} is not JSON-serialisable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toCheckpointRecord(row: Checkpoint): CheckpointRecord {
  return { ...row, sizeBytes: Number(row.sizeBytes) };
}

function invalid(message: string): CrowdtrainError {
  return new CrowdtrainError('INVALID_MESSAGE', message);
}

function runNotFound(runId: string): CrowdtrainError {
  return new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
}

function requireText(what: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value) ?? 'undefined'}`);
}

function requireRunStatus(status: unknown): void {
  if (!RunStatusSchema.safeParse(status).success) throw invalid(`run status "${String(status)}" is not one of ${RunStatusSchema.options.join(', ')}`);
}

function requireInt(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function countOf(what: string, value: number | undefined): number {
  if (value === undefined) return 0;
  requireInt(`contribution ${what}`, value, 0);
  return value;
}

function prismaCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Foreign-key failures on run-scoped writes mean the run does not exist. */
function mapRunError(err: unknown, runId: string): unknown {
  const code = prismaCode(err);
  if (code === 'P2003' || code === 'P2025') return new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`, { cause: err });
  return err;
}
