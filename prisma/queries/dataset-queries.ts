/**
 * Data sets, their content versions and the inputs runs record (MLflow's `log_input`; a part of
 * TrackingStore). A data set is a name; each distinct digest under it is a version numbered in
 * order of first use; a run input links a run to a version with a context (`training`, ...).
 */
import type { TrackingPrismaClient } from '../db.ts';
import { invalid, mapRunError, prismaCode, requireText, runNotFound } from './query-guards.ts';

/** Longest data set name (MLflow's MAX_DATASET_NAME_SIZE). */
export const MAX_DATASET_NAME_LENGTH = 500;
/** Longest digest: a SHA-256 in hex (MLflow truncates its own digests to 36 characters). */
export const MAX_DATASET_DIGEST_LENGTH = 64;
/** Longest source text (MLflow's MAX_DATASET_SOURCE_SIZE). */
export const MAX_DATASET_SOURCE_LENGTH = 65_535;
/** Longest schema text (MLflow's MAX_DATASET_SCHEMA_SIZE). */
export const MAX_DATASET_SCHEMA_LENGTH = 1_048_575;
/** Longest profile text (MLflow allows 16 MiB; profiles here are a few KB). */
export const MAX_DATASET_PROFILE_LENGTH = 1_048_575;
/** Longest context (MLflow's MAX_INPUT_TAG_VALUE_SIZE). */
export const MAX_INPUT_CONTEXT_LENGTH = 500;
/** Most inputs one call may log. */
export const MAX_INPUTS_PER_CALL = 100;
/** Attempts of the logging transaction when a concurrent writer created the same data set name first. */
const VERSION_ATTEMPTS = 8;

/** One data set input to log: the data set's identity, where it came from, and the run's context. */
export interface DatasetInputInput {
  name: string;
  /** The content hash that distinguishes versions. */
  digest: string;
  /** `builtin`, `local`, or an MLflow source type (`http`, `s3`, ...). */
  sourceType: string;
  /** Where the data came from, as text (JSON for our own data sets). */
  source: string;
  schema?: string | null;
  profile?: string | null;
  /** What the run used it for (MLflow's `mlflow.data.context` tag); default `training`. */
  context?: string;
}

/** A data set version as stored. */
export interface DatasetVersionRecord {
  id: string;
  datasetId: string;
  name: string;
  version: number;
  digest: string;
  sourceType: string;
  source: string;
  schema: string | null;
  profile: string | null;
  createdAt: Date;
}

/** A run's input: the version and the context. */
export interface RunInputRecord {
  runId: string;
  context: string;
  createdAt: Date;
  dataset: DatasetVersionRecord;
}

/** A data set with its newest version and usage counts. */
export interface DatasetSummaryRecord {
  id: string;
  name: string;
  createdAt: Date;
  versionCount: number;
  runCount: number;
  latest: DatasetVersionRecord | null;
}

/** A data set with every version (newest first) and the runs that used each. */
export interface DatasetDetailRecord {
  id: string;
  name: string;
  createdAt: Date;
  versions: (DatasetVersionRecord & { runs: { runId: string; runName: string; status: string; context: string }[] })[];
}

type Tx = Parameters<Parameters<TrackingPrismaClient['$transaction']>[0]>[0];

function requireBounded(what: string, value: unknown, max: number, optional = false): void {
  if (optional && (value === undefined || value === null)) return;
  if (typeof value !== 'string') throw invalid(`${what} must be a string, got ${typeof value}`);
  if (value.length > max) throw invalid(`${what} is ${value.length} characters, over the limit of ${max}`);
}

/** Throws INVALID_MESSAGE naming the field and the input's index unless the input is within the limits. */
export function requireDatasetInput(input: DatasetInputInput, index = 0): void {
  const where = `dataset input ${index}`;
  requireText(`${where}: name`, input.name);
  requireBounded(`${where}: name`, input.name, MAX_DATASET_NAME_LENGTH);
  requireText(`${where}: digest`, input.digest);
  requireBounded(`${where}: digest`, input.digest, MAX_DATASET_DIGEST_LENGTH);
  requireText(`${where}: source type`, input.sourceType);
  requireBounded(`${where}: source type`, input.sourceType, 64);
  requireBounded(`${where}: source`, input.source, MAX_DATASET_SOURCE_LENGTH);
  requireBounded(`${where}: schema`, input.schema, MAX_DATASET_SCHEMA_LENGTH, true);
  requireBounded(`${where}: profile`, input.profile, MAX_DATASET_PROFILE_LENGTH, true);
  if (input.context !== undefined) {
    requireText(`${where}: context`, input.context);
    requireBounded(`${where}: context`, input.context, MAX_INPUT_CONTEXT_LENGTH);
  }
}

const versionSelect = {
  id: true,
  datasetId: true,
  version: true,
  digest: true,
  sourceType: true,
  source: true,
  schema: true,
  profile: true,
  createdAt: true,
  dataset: { select: { name: true } },
} as const;

type VersionRow = { dataset: { name: string } } & Omit<DatasetVersionRecord, 'name'>;

function versionRecord(row: VersionRow): DatasetVersionRecord {
  const { dataset, ...rest } = row;
  return { ...rest, name: dataset.name };
}

/** The version of `input`'s digest under its name, created (with the next number) when new. */
async function findOrCreateVersion(tx: Tx, input: DatasetInputInput): Promise<string> {
  const dataset = await tx.dataset.upsert({ where: { name: input.name }, create: { name: input.name }, update: {}, select: { id: true } });
  const byDigest = () => tx.datasetVersion.findUnique({ where: { datasetId_digest: { datasetId: dataset.id, digest: input.digest } }, select: { id: true } });
  const existing = await byDigest();
  if (existing) return existing.id;
  // A no-op update locks the data set's row until this transaction ends (PostgreSQL; SQLite has
  // one writer anyway), so concurrent first uses of new digests number their versions in turn.
  await tx.dataset.update({ where: { id: dataset.id }, data: { name: input.name }, select: { id: true } });
  const raced = await byDigest();
  if (raced) return raced.id;
  const newest = await tx.datasetVersion.findFirst({ where: { datasetId: dataset.id }, orderBy: { version: 'desc' }, select: { version: true } });
  const created = await tx.datasetVersion.create({
    data: {
      datasetId: dataset.id,
      version: (newest?.version ?? 0) + 1,
      digest: input.digest,
      sourceType: input.sourceType,
      source: input.source,
      schema: input.schema ?? null,
      profile: input.profile ?? null,
    },
    select: { id: true },
  });
  return created.id;
}

/** The data set queries of {@link TrackingStore}. */
export class DatasetQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Records the data sets a run used, in one transaction: each input's data set is created when
   * its name is new, its version when its digest is new (numbered after the newest), and the run
   * is linked to it under its context (logging the same input twice is a no-op). RUN_NOT_FOUND
   * when the run has no row; INVALID_MESSAGE naming the field of an input over a limit. Nothing
   * is written when any part fails.
   */
  async logRunInputs(runId: string, inputs: readonly DatasetInputInput[]): Promise<RunInputRecord[]> {
    if (inputs.length > MAX_INPUTS_PER_CALL) throw invalid(`${inputs.length} dataset inputs in one call; the limit is ${MAX_INPUTS_PER_CALL}`);
    inputs.forEach((input, i) => requireDatasetInput(input, i));
    if (inputs.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.prisma.$transaction(async (tx) => {
          const run = await tx.run.findUnique({ where: { id: runId }, select: { id: true } });
          if (!run) throw runNotFound(runId);
          for (const input of inputs) {
            const datasetVersionId = await findOrCreateVersion(tx, input);
            const context = input.context ?? 'training';
            await tx.runInput.upsert({
              where: { runId_datasetVersionId_context: { runId, datasetVersionId, context } },
              create: { runId, datasetVersionId, context },
              update: {},
            });
          }
        });
        break;
      } catch (err) {
        // A concurrent transaction created the same data set name or version number first: retry.
        if (prismaCode(err) === 'P2002' && attempt < VERSION_ATTEMPTS) continue;
        throw mapRunError(err, runId);
      }
    }
    return (await this.runInputs([runId])).get(runId) ?? [];
  }

  /** Each run's inputs (oldest first); runs without any are absent from the map. */
  async runInputs(runIds: readonly string[]): Promise<Map<string, RunInputRecord[]>> {
    const out = new Map<string, RunInputRecord[]>();
    if (runIds.length === 0) return out;
    const rows = await this.prisma.runInput.findMany({
      where: { runId: { in: [...runIds] } },
      orderBy: [{ createdAt: 'asc' }, { context: 'asc' }],
      select: { runId: true, context: true, createdAt: true, datasetVersion: { select: versionSelect } },
    });
    for (const r of rows) {
      const list = out.get(r.runId) ?? [];
      list.push({ runId: r.runId, context: r.context, createdAt: r.createdAt, dataset: versionRecord(r.datasetVersion) });
      out.set(r.runId, list);
    }
    return out;
  }

  /** Every data set, by name, with its newest version and how many versions and runs it has. */
  async listDatasets(): Promise<DatasetSummaryRecord[]> {
    const rows = await this.prisma.dataset.findMany({
      orderBy: { name: 'asc' },
      select: {
        id: true,
        name: true,
        createdAt: true,
        _count: { select: { versions: true } },
        versions: { orderBy: { version: 'desc' }, take: 1, select: versionSelect },
      },
    });
    const runCounts = await this.prisma.runInput.groupBy({ by: ['datasetVersionId'], _count: { runId: true } });
    const versionsOf = await this.prisma.datasetVersion.findMany({ select: { id: true, datasetId: true } });
    const datasetOf = new Map(versionsOf.map((v) => [v.id, v.datasetId]));
    const runsPerDataset = new Map<string, number>();
    for (const c of runCounts) {
      const d = datasetOf.get(c.datasetVersionId);
      if (d !== undefined) runsPerDataset.set(d, (runsPerDataset.get(d) ?? 0) + c._count.runId);
    }
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.createdAt,
      versionCount: r._count.versions,
      runCount: runsPerDataset.get(r.id) ?? 0,
      latest: r.versions[0] ? versionRecord(r.versions[0]) : null,
    }));
  }

  /** A data set with all its versions (newest first) and the runs that used each; null when there is none with this id. */
  async getDataset(id: string): Promise<DatasetDetailRecord | null> {
    const row = await this.prisma.dataset.findUnique({
      where: { id },
      select: {
        id: true,
        name: true,
        createdAt: true,
        versions: {
          orderBy: { version: 'desc' },
          select: {
            ...versionSelect,
            inputs: { orderBy: { createdAt: 'asc' }, select: { context: true, run: { select: { id: true, name: true, status: true } } } },
          },
        },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      createdAt: row.createdAt,
      versions: row.versions.map(({ inputs, ...v }) => ({
        ...versionRecord(v),
        runs: inputs.map((i) => ({ runId: i.run.id, runName: i.run.name, status: i.run.status, context: i.context })),
      })),
    };
  }
}
