/** Experiments and runs: creation, status and progress, lookup, listing and search (a part of TrackingStore). */
import { z } from 'zod';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { TrackingPrismaClient } from '../db.ts';
import type { Experiment, Run } from '../generated/sqlite/client.ts';
import { invalid, prismaCode, requireInt, requireText, runNotFound, toJson } from './query-guards.ts';

/** Run lifecycle states stored in `Run.status`. */
export const RunStatusSchema = z.enum(['queued', 'running', 'paused', 'finished', 'failed', 'stopped']);
/** One of the run lifecycle states. */
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** A training mode's name as stored in `Run.mode`: a key of the mode registry (`core/run/modes.ts`). */
export type RunMode = string;

const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['finished', 'failed', 'stopped']);

/** A run row with its status and mode narrowed to their unions. */
export type RunRecord = Omit<Run, 'status' | 'mode'> & { status: RunStatus; mode: RunMode };
/** A run row with its experiment. */
export type RunWithExperiment = RunRecord & { experiment: Experiment };

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

/** The experiment and run queries of {@link TrackingStore}; `modes` are the run modes createRun accepts. */
export class RunQueries {
  constructor(
    private readonly prisma: TrackingPrismaClient,
    private readonly modes: readonly string[],
  ) {}

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
        // Soft-deleted runs (MLflow's runs/delete) leave the lists; they stay readable by id.
        deletedAt: null,
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
      deletedAt: null,
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
}

function requireRunStatus(status: unknown): void {
  if (!RunStatusSchema.safeParse(status).success) throw invalid(`run status "${String(status)}" is not one of ${RunStatusSchema.options.join(', ')}`);
}
