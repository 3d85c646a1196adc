/**
 * The tracking store's one public class, `TrackingStore`, and the types of its API. Each group of
 * queries lives in its own part, which this facade composes and delegates to (a call here is one
 * call there, so wrapping the store's methods, as bench/support/store-call-timer.ts does, still
 * sees every database round trip):
 *
 * | part | holds |
 * | --- | --- |
 * | `run-queries.ts` | experiments, runs: create, status, progress, get, list, search |
 * | `param-queries.ts` | hyperparameters (flattened to dotted keys) |
 * | `metric-queries.ts` | metric points: log, curves, extremes, summaries, rewind |
 * | `worker-queries.ts` | workers, per-run contributions, a run's fleet |
 * | `checkpoint-queries.ts` | checkpoint rows: latest/best, lookup, retention |
 * | `event-queries.ts` | the event log |
 * | `token-queries.ts` | API tokens |
 * | `tag-queries.ts` | run and experiment tags, run nesting (`mlflow.parentRunId` = `Run.parentRunId`) |
 * | `experiment-queries.ts` | experiments with tags: strict create, lookup by id or name, list |
 * | `tracked-run-queries.ts` | external runs: create with tags/params/parent, update, soft delete and restore |
 * | `run-filter-queries.ts` | MLflow-filter search (latest metric values), sorting, paging; latest metrics |
 * | `dataset-queries.ts` | data sets, their content versions, and the inputs runs used (MLflow's log_input) |
 * | `query-guards.ts` | the input checks, JSON text and Prisma error mapping they share |
 */
import { ResumeQueries } from './resume-queries.ts';
import { DatasetQueries, type DatasetDetailRecord, type DatasetInputInput, type DatasetSummaryRecord, type RunInputRecord } from './dataset-queries.ts';
import { EXTERNAL_RUN_MODE, MODE_NAMES } from '../../core/run/modes.ts';
import type { Database } from '../db.ts';
import { CheckpointQueries, type AddCheckpointInput, type CheckpointRecord } from './checkpoint-queries.ts';
import { EventQueries, type EventRecord, type ListEventsOptions, type RecordEventInput } from './event-queries.ts';
import { MetricQueries, type MetricPointInput, type MetricPointRecord, type MetricSummaryRecord } from './metric-queries.ts';
import { ParamQueries } from './param-queries.ts';
import { RunQueries, type CreateRunInput, type ListRunsInput, type RunRecord, type RunStatus, type RunWithExperiment, type SearchRunsInput } from './run-queries.ts';
import { TokenQueries, type TokenScope, type VerifiedToken } from './token-queries.ts';
import { ExperimentQueries, type ExperimentRecord } from './experiment-queries.ts';
import { RunFilterQueries, type FilterRunsInput, type LatestMetricRecord } from './run-filter-queries.ts';
import { TagQueries, type TagRecord } from './tag-queries.ts';
import { TrackedRunQueries, type CreateExternalRunInput, type UpdateTrackedRunInput } from './tracked-run-queries.ts';
import { WorkerQueries, type ContributionDelta, type ContributionRecord, type FleetEntryRecord, type UpsertWorkerInput, type WorkerRecord, type WorkerRetirement } from './worker-queries.ts';

export { RunSortSchema, RunStatusSchema } from './run-queries.ts';
export type { CreateRunInput, ListRunsInput, RunMode, RunRecord, RunStatus, RunWithExperiment, SearchRunsInput } from './run-queries.ts';
export { flattenParams } from './param-queries.ts';
export type { MetricPointInput, MetricPointRecord, MetricSummaryRecord } from './metric-queries.ts';
/** Worker kinds stored in `Worker.kind`: the protocol's one list. */
export { WorkerKindSchema } from '../../core/protocol/messages.ts';
export type { ContributionDelta, ContributionRecord, FleetEntryRecord, UpsertWorkerInput, WorkerKind, WorkerRecord, WorkerRetirement } from './worker-queries.ts';
export type { AddCheckpointInput, CheckpointRecord } from './checkpoint-queries.ts';
export type { EventRecord, ListEventsOptions, RecordEventInput } from './event-queries.ts';
export { TokenScopeSchema } from './token-queries.ts';
export { MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, PARENT_RUN_TAG, RUN_NAME_TAG } from './tag-queries.ts';
export type { TagRecord } from './tag-queries.ts';
export type { ExperimentRecord } from './experiment-queries.ts';
export type { CreateExternalRunInput, UpdateTrackedRunInput } from './tracked-run-queries.ts';
export { MLFLOW_STATUS_OF, runStartTime } from './run-filter-queries.ts';
export type { FilterRunsInput, LatestMetricRecord, RunViewType } from './run-filter-queries.ts';
export type { TokenScope, VerifiedToken } from './token-queries.ts';
export type { DatasetDetailRecord, DatasetInputInput, DatasetSummaryRecord, DatasetVersionRecord, RunInputRecord } from './dataset-queries.ts';

/** The public methods of a query part (its constructor arguments and private members left out). */
type PartApi<T> = Pick<T, keyof T>;

/**
 * Experiment tracking on top of the tracking database: experiments, runs, params, metrics,
 * workers, contributions, checkpoints, events and API tokens. Provider-agnostic (SQLite and
 * PostgreSQL run the same code). Invalid values throw CrowdtrainError naming them. Each method
 * is documented on the part that implements it (see this module's table).
 * @example
 * const store = new TrackingStore(await openDatabase({ url }));
 * const { id } = await store.ensureExperiment('mnist');
 * const run = await store.createRun({ experimentId: id, name: 'mlp', mode: 'ddp', config, seed: 42, totalUpdates: 500 });
 * await store.logMetrics(run.id, [{ key: 'loss', step: 1, value: 2.3 }]);
 */
export class TrackingStore
  implements
    PartApi<RunQueries>,
    PartApi<ParamQueries>,
    PartApi<MetricQueries>,
    PartApi<WorkerQueries>,
    PartApi<CheckpointQueries>,
    PartApi<EventQueries>,
    PartApi<TokenQueries>,
    PartApi<TagQueries>,
    PartApi<ExperimentQueries>,
    PartApi<TrackedRunQueries>,
    PartApi<RunFilterQueries>,
    PartApi<DatasetQueries>
{
  private readonly runs: RunQueries;
  private readonly params: ParamQueries;
  private readonly metrics: MetricQueries;
  private readonly workers: WorkerQueries;
  private readonly checkpoints: CheckpointQueries;
  private readonly events: EventQueries;
  private readonly tokens: TokenQueries;
  private readonly tags: TagQueries;
  private readonly experiments: ExperimentQueries;
  private readonly trackedRuns: TrackedRunQueries;
  private readonly runFilter: RunFilterQueries;
  private readonly resumes: ResumeQueries;
  private readonly datasets: DatasetQueries;

  /** `modes`: the mode names new runs may have (the built-in registry's by default; `external` always). */
  constructor(db: Database, opts: { modes?: readonly string[] } = {}) {
    const prisma = db.prisma;
    this.runs = new RunQueries(prisma, [...(opts.modes ?? MODE_NAMES), EXTERNAL_RUN_MODE]);
    this.params = new ParamQueries(prisma);
    this.metrics = new MetricQueries(prisma);
    this.workers = new WorkerQueries(prisma);
    this.checkpoints = new CheckpointQueries(prisma);
    this.events = new EventQueries(prisma);
    this.tokens = new TokenQueries(prisma);
    this.tags = new TagQueries(prisma);
    this.experiments = new ExperimentQueries(prisma);
    this.trackedRuns = new TrackedRunQueries(prisma);
    this.runFilter = new RunFilterQueries(prisma);
    this.resumes = new ResumeQueries(prisma);
    this.datasets = new DatasetQueries(prisma);
  }

  // Experiments and runs (run-queries.ts).
  ensureExperiment(name: string, description?: string): Promise<{ id: string }> {
    return this.runs.ensureExperiment(name, description);
  }
  createRun(input: CreateRunInput): Promise<RunRecord> {
    return this.runs.createRun(input);
  }
  setRunStatus(runId: string, status: RunStatus, extra?: { error?: string }): Promise<RunRecord> {
    return this.runs.setRunStatus(runId, status, extra);
  }
  setRunProgress(runId: string, step: number): Promise<void> {
    return this.runs.setRunProgress(runId, step);
  }
  getRun(runId: string): Promise<RunWithExperiment | null> {
    return this.runs.getRun(runId);
  }
  listRuns(input?: ListRunsInput): Promise<RunWithExperiment[]> {
    return this.runs.listRuns(input);
  }
  searchRuns(input?: SearchRunsInput): Promise<{ runs: RunWithExperiment[]; total: number }> {
    return this.runs.searchRuns(input);
  }

  // Params (param-queries.ts).
  logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    return this.params.logParams(runId, params);
  }
  getParams(runId: string): Promise<Record<string, string>> {
    return this.params.getParams(runId);
  }

  // Metrics (metric-queries.ts).
  logMetrics(runId: string, points: readonly MetricPointInput[]): Promise<void> {
    return this.metrics.logMetrics(runId, points);
  }
  getMetricHistory(runId: string, key: string): Promise<MetricPointRecord[]> {
    return this.metrics.getMetricHistory(runId, key);
  }
  getMetricHistoryAfter(runId: string, key: string, afterStep: number, limit?: number): Promise<MetricPointRecord[]> {
    return this.metrics.getMetricHistoryAfter(runId, key, afterStep, limit);
  }
  maxMetricByRun(runIds: readonly string[], key: string): Promise<Map<string, number>> {
    return this.metrics.maxMetricByRun(runIds, key);
  }
  listMetricKeys(runId: string): Promise<string[]> {
    return this.metrics.listMetricKeys(runId);
  }
  rewindMetrics(runId: string, step: number): Promise<number> {
    return this.metrics.rewindMetrics(runId, step);
  }
  /** Resume-queries.ts: rewinds the metrics after `fromStep`, records `resumed` and marks the run running, in one transaction. */
  recordResume(runId: string, fromStep: number, detail: Record<string, unknown>): Promise<number> {
    return this.resumes.recordResume(runId, fromStep, detail);
  }
  summarizeRunMetrics(runIds: readonly string[], keys?: readonly string[]): Promise<MetricSummaryRecord[]> {
    return this.metrics.summarizeRunMetrics(runIds, keys);
  }

  // Workers and contributions (worker-queries.ts).
  upsertWorker(input: UpsertWorkerInput): Promise<WorkerRecord> {
    return this.workers.upsertWorker(input);
  }
  markWorkerLeft(id: string): Promise<boolean> {
    return this.workers.markWorkerLeft(id);
  }
  retireWorker(id: string): Promise<WorkerRetirement> {
    return this.workers.retireWorker(id);
  }
  touchWorker(id: string): Promise<boolean> {
    return this.workers.touchWorker(id);
  }
  getWorker(id: string): Promise<WorkerRecord | null> {
    return this.workers.getWorker(id);
  }
  addContribution(runId: string, workerId: string, delta: ContributionDelta): Promise<void> {
    return this.workers.addContribution(runId, workerId, delta);
  }
  addRejection(runId: string, workerId: string, rejectReason?: string, rejected?: number): Promise<boolean> {
    return this.workers.addRejection(runId, workerId, rejectReason, rejected);
  }
  listContributions(runId: string): Promise<ContributionRecord[]> {
    return this.workers.listContributions(runId);
  }
  countContributors(runIds: readonly string[]): Promise<Map<string, number>> {
    return this.workers.countContributors(runIds);
  }
  listFleet(runId: string): Promise<FleetEntryRecord[]> {
    return this.workers.listFleet(runId);
  }

  // Checkpoints (checkpoint-queries.ts).
  addCheckpoint(input: AddCheckpointInput): Promise<CheckpointRecord> {
    return this.checkpoints.addCheckpoint(input);
  }
  findCheckpoint(runId: string, which: 'latest' | 'best' | number): Promise<CheckpointRecord | null> {
    return this.checkpoints.findCheckpoint(runId, which);
  }
  getCheckpoint(runId: string, checkpointId: string): Promise<CheckpointRecord | null> {
    return this.checkpoints.getCheckpoint(runId, checkpointId);
  }
  deleteCheckpoints(runId: string, ids: readonly string[]): Promise<CheckpointRecord[]> {
    return this.checkpoints.deleteCheckpoints(runId, ids);
  }
  listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    return this.checkpoints.listCheckpoints(runId);
  }

  // Events (event-queries.ts).
  recordEvent(input: RecordEventInput): Promise<{ id: number }> {
    return this.events.recordEvent(input);
  }
  listEvents(runId: string, opts?: ListEventsOptions): Promise<EventRecord[]> {
    return this.events.listEvents(runId, opts);
  }

  // API tokens (token-queries.ts).
  createApiToken(name: string, scope: TokenScope): Promise<{ token: string; id: string }> {
    return this.tokens.createApiToken(name, scope);
  }
  verifyApiToken(token: string, scope?: TokenScope): Promise<VerifiedToken | null> {
    return this.tokens.verifyApiToken(token, scope);
  }
  revokeApiToken(id: string): Promise<boolean> {
    return this.tokens.revokeApiToken(id);
  }

  // Tags and nesting (tag-queries.ts).
  setRunTags(runId: string, tags: readonly TagRecord[]): Promise<void> {
    return this.tags.setRunTags(runId, tags);
  }
  deleteRunTag(runId: string, key: string): Promise<boolean> {
    return this.tags.deleteRunTag(runId, key);
  }
  getRunTags(runId: string): Promise<TagRecord[]> {
    return this.tags.getRunTags(runId);
  }
  getRunTagsByRun(runIds: readonly string[]): Promise<Map<string, TagRecord[]>> {
    return this.tags.getRunTagsByRun(runIds);
  }
  setRunParent(runId: string, parentRunId: string | null): Promise<void> {
    return this.tags.setRunParent(runId, parentRunId);
  }
  listChildRunIds(runId: string): Promise<string[]> {
    return this.tags.listChildRunIds(runId);
  }
  setExperimentTags(experimentId: string, tags: readonly TagRecord[]): Promise<void> {
    return this.tags.setExperimentTags(experimentId, tags);
  }

  // Experiments with tags (experiment-queries.ts).
  createExperiment(name: string, opts?: { description?: string; tags?: readonly TagRecord[] }): Promise<ExperimentRecord> {
    return this.experiments.createExperiment(name, opts);
  }
  getExperiment(id: string): Promise<ExperimentRecord | null> {
    return this.experiments.getExperiment(id);
  }
  getExperimentByName(name: string): Promise<ExperimentRecord | null> {
    return this.experiments.getExperimentByName(name);
  }
  listExperiments(take?: number): Promise<ExperimentRecord[]> {
    return this.experiments.listExperiments(take);
  }

  // Externally tracked runs and the soft lifecycle (tracked-run-queries.ts).
  createExternalRun(input: CreateExternalRunInput): Promise<RunRecord> {
    return this.trackedRuns.createExternalRun(input);
  }
  updateTrackedRun(runId: string, input: UpdateTrackedRunInput): Promise<RunRecord> {
    return this.trackedRuns.updateTrackedRun(runId, input);
  }
  markRunDeleted(runId: string): Promise<RunRecord> {
    return this.trackedRuns.markRunDeleted(runId);
  }
  restoreRun(runId: string): Promise<RunRecord> {
    return this.trackedRuns.restoreRun(runId);
  }

  // MLflow-filter search and latest metric values (run-filter-queries.ts).
  filterRuns(input: FilterRunsInput): Promise<{ runs: RunWithExperiment[]; hasMore: boolean }> {
    return this.runFilter.filterRuns(input);
  }
  latestMetricsByRun(runIds: readonly string[]): Promise<Map<string, LatestMetricRecord[]>> {
    return this.runFilter.latestMetricsByRun(runIds);
  }
  paramsByRun(runIds: readonly string[]): Promise<Map<string, { key: string; value: string }[]>> {
    return this.runFilter.paramsByRun(runIds);
  }

  // Data sets, versions and run inputs (dataset-queries.ts).
  logRunInputs(runId: string, inputs: readonly DatasetInputInput[]): Promise<RunInputRecord[]> {
    return this.datasets.logRunInputs(runId, inputs);
  }
  runInputs(runIds: readonly string[]): Promise<Map<string, RunInputRecord[]>> {
    return this.datasets.runInputs(runIds);
  }
  listDatasets(): Promise<DatasetSummaryRecord[]> {
    return this.datasets.listDatasets();
  }
  getDataset(id: string): Promise<DatasetDetailRecord | null> {
    return this.datasets.getDataset(id);
  }
}
