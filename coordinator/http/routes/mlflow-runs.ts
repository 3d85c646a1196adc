/**
 * The run and metric routes of the MLflow-compatible API (routes/mlflow.ts): create, get, update,
 * delete, restore, log-metric, log-parameter, set-tag, delete-tag, log-batch, log-inputs and search of runs,
 * and metric history. A run this coordinator trains keeps its status (it follows training).
 */
import {
  CreateRunRequestSchema,
  DeleteTagRequestSchema,
  EmptyResponseSchema,
  GetMetricHistoryRequestSchema,
  LogBatchRequestSchema,
  LogInputsRequestSchema,
  DATASET_CONTEXT_TAG,
  LogMetricRequestSchema,
  LogParamRequestSchema,
  MetricHistoryResponseSchema,
  RunIdRequestSchema,
  RunResponseSchema,
  SearchRunsRequestSchema,
  SearchRunsResponseSchema,
  SetTagRequestSchema,
  UpdateRunRequestSchema,
  UpdateRunResponseSchema,
  decodePageToken,
  encodePageToken,
  type MlflowRun,
  type MlflowRunStatus,
} from '../../../core/api/mlflow.ts';
import { parseRunFilter, parseRunOrderBy } from '../../../core/api/mlflow-filter.ts';
import { PARENT_RUN_TAG, RUN_NAME_TAG, type RunStatus, type RunViewType, type RunWithExperiment, type TagRecord, type TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { queryObject, readJson } from '../http-io.ts';
import { LogBatchWriter, yieldToEventLoop } from '../log-writer.ts';
import type { Route } from '../route.ts';
import { DEFAULT_EXPERIMENT_ID, experimentLookups } from './mlflow-experiments.ts';
import { MAX_TAGS_PER_REQUEST, MlflowError, USER_TAG, mlflowRoute, ms, parseRequest, requireCount, runInfoView, runView, tagValue } from './mlflow-wire.ts';
import { MAX_METRIC_STEP, MAX_PARAMS_PER_BATCH, MAX_POINTS_PER_BATCH } from './runs.ts';
import { MAX_INPUTS_PER_CALL, requireDatasetInput } from '../../../prisma/queries/dataset-queries.ts';
import { METRIC_KEY, isExternal } from './run-lookup.ts';

const FROM_MLFLOW_STATUS: Record<MlflowRunStatus, RunStatus> = { RUNNING: 'running', SCHEDULED: 'queued', FINISHED: 'finished', FAILED: 'failed', KILLED: 'stopped' };

const VIEW_TYPE: Record<'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL', RunViewType> = { ACTIVE_ONLY: 'active', DELETED_ONLY: 'deleted', ALL: 'all' };

/** Checks a metric point against the bounds of the REST API (key form, finite value, 32-bit step); `where` names it in the message. */
function requireMetricPoint(m: { key: string; value: number; step: number; timestamp: number }, where: string): void {
  if (!METRIC_KEY.test(m.key)) throw new MlflowError('INVALID_PARAMETER_VALUE', `${where}: metric key "${m.key}" must be 1-128 letters, digits or _ . / -`);
  if (!Number.isFinite(m.value)) throw new MlflowError('INVALID_PARAMETER_VALUE', `${where}: metric "${m.key}" at step ${m.step} has value ${String(m.value)}; this server stores finite values only`);
  if (m.step < 0 || m.step > MAX_METRIC_STEP) throw new MlflowError('INVALID_PARAMETER_VALUE', `${where}: metric "${m.key}" has step ${m.step}; steps must be in [0, ${MAX_METRIC_STEP}] (a 32-bit integer)`);
  if (m.timestamp < 0) throw new MlflowError('INVALID_PARAMETER_VALUE', `${where}: metric "${m.key}" has a negative timestamp ${m.timestamp}`);
}

/** The run and metric routes of the MLflow REST API. */
export function mlflowRunRoutes(c: CoordinatorApi, store: TrackingStore): Route[] {
  const { resolveExperimentId, requireExperiment } = experimentLookups(store);

  const requireRun = async (body: { run_id?: string; run_uuid?: string }): Promise<RunWithExperiment> => {
    const id = body.run_id ?? body.run_uuid;
    if (id === undefined) throw new MlflowError('INVALID_PARAMETER_VALUE', 'missing value for required parameter run_id');
    const run = await store.getRun(id);
    if (!run) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
    return run;
  };

  /** MLflow refuses writes to a deleted run: INVALID_STATE. */
  const requireActiveRun = async (body: { run_id?: string; run_uuid?: string }): Promise<RunWithExperiment> => {
    const run = await requireRun(body);
    if (run.deletedAt !== null) throw new MlflowError('INVALID_STATE', `The run ${run.id} must be in the 'active' state. Current state is deleted.`);
    return run;
  };

  const fullRun = async (runId: string): Promise<MlflowRun> => {
    const run = await store.getRun(runId);
    if (!run) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    const [tags, params, metrics, inputs] = await Promise.all([store.getRunTags(runId), store.paramsByRun([runId]), store.latestMetricsByRun([runId]), store.runInputs([runId])]);
    return runView(run, tags, params.get(runId) ?? [], metrics.get(runId) ?? [], inputs.get(runId) ?? []);
  };

  /** Refuses a param that was logged before with another value (MLflow params are immutable). */
  const requireNewParams = async (runId: string, params: readonly TagRecord[]): Promise<void> => {
    const given = new Map<string, string>();
    for (const p of params) {
      const before = given.get(p.key);
      if (before !== undefined && before !== p.value) {
        throw new MlflowError('INVALID_PARAMETER_VALUE', `Duplicate parameter keys have been submitted: param "${p.key}" is given both "${before}" and "${p.value}"`);
      }
      given.set(p.key, p.value);
    }
    if (given.size === 0) return;
    const existing = await store.getParams(runId);
    for (const [key, value] of given) {
      const old = existing[key];
      if (old !== undefined && old !== value) {
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${value}'.`,
        );
      }
    }
  };

  /** Writes metric points (in event-loop-friendly chunks) and moves an external run's progress to the top step. */
  const writeMetrics = async (run: RunWithExperiment, points: readonly { key: string; value: number; timestamp: number; step: number }[]): Promise<void> => {
    if (points.length === 0) return;
    await new LogBatchWriter(store).writeMetrics(
      run.id,
      points.map((p) => ({ key: p.key, value: p.value, step: p.step, time: new Date(p.timestamp) })),
    );
    if (isExternal(run)) {
      const top = Math.max(...points.map((p) => p.step));
      if (top > run.step) await store.setRunProgress(run.id, top);
    }
  };
  return [
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/create',
      write: true,
      response: RunResponseSchema,
      async handle({ req }) {
        const body = parseRequest(CreateRunRequestSchema, await readJson(req), 'runs/create');
        requireCount('tags', body.tags.length, MAX_TAGS_PER_REQUEST);
        const experiment = await requireExperiment(body.experiment_id ?? DEFAULT_EXPERIMENT_ID);
        const name = body.run_name ?? tagValue(body.tags, RUN_NAME_TAG) ?? `external-${Date.now().toString(36)}`;
        const parent = tagValue(body.tags, PARENT_RUN_TAG);
        const tags = body.user_id !== undefined && tagValue(body.tags, USER_TAG) === undefined ? [...body.tags, { key: USER_TAG, value: body.user_id }] : body.tags;
        const run = await store.createExternalRun({
          experimentId: experiment.id,
          name,
          config: { external: true, source: 'mlflow', name, experiment: experiment.name },
          startedAt: body.start_time === undefined ? undefined : new Date(body.start_time),
          parentRunId: parent,
          tags,
        });
        return { run: await fullRun(run.id) };
      },
    }),
    mlflowRoute(c, {
      method: 'GET',
      path: 'runs/get',
      write: false,
      response: RunResponseSchema,
      async handle({ url }) {
        const run = await requireRun(parseRequest(RunIdRequestSchema, queryObject(url), 'runs/get'));
        return { run: await fullRun(run.id) };
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/update',
      write: true,
      response: UpdateRunResponseSchema,
      async handle({ req }) {
        const body = parseRequest(UpdateRunRequestSchema, await readJson(req), 'runs/update');
        const run = await requireActiveRun(body);
        if ((body.status !== undefined || body.end_time !== undefined) && !isExternal(run)) {
          throw new MlflowError('INVALID_STATE', `run ${run.id} is trained by this coordinator: its status follows training (stop it with POST /api/v1/runs/${run.id}/stop)`);
        }
        const updated = await store.updateTrackedRun(run.id, {
          status: body.status === undefined ? undefined : FROM_MLFLOW_STATUS[body.status],
          endedAt: body.end_time === undefined ? undefined : new Date(body.end_time),
          name: body.run_name,
        });
        const tags = await store.getRunTags(run.id);
        return { run_info: runInfoView({ ...updated, experiment: run.experiment }, tags) };
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/delete',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const run = await requireRun(parseRequest(RunIdRequestSchema, await readJson(req), 'runs/delete'));
        if (c.activeSession(run.id)) throw new MlflowError('INVALID_STATE', `run ${run.id} is training on this coordinator: stop it before deleting it`);
        await store.markRunDeleted(run.id);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/restore',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const run = await requireRun(parseRequest(RunIdRequestSchema, await readJson(req), 'runs/restore'));
        if (run.deletedAt !== null) await store.restoreRun(run.id);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/log-metric',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(LogMetricRequestSchema, await readJson(req), 'runs/log-metric');
        const run = await requireActiveRun(body);
        requireMetricPoint(body, 'runs/log-metric');
        await writeMetrics(run, [body]);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/log-parameter',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(LogParamRequestSchema, await readJson(req), 'runs/log-parameter');
        const run = await requireActiveRun(body);
        await requireNewParams(run.id, [body]);
        await store.logParams(run.id, { [body.key]: body.value });
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/set-tag',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(SetTagRequestSchema, await readJson(req), 'runs/set-tag');
        const run = await requireActiveRun(body);
        await store.setRunTags(run.id, [{ key: body.key, value: body.value }]);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/delete-tag',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(DeleteTagRequestSchema, await readJson(req), 'runs/delete-tag');
        const run = await requireActiveRun(body);
        if (!(await store.deleteRunTag(run.id, body.key))) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No tag with name: ${body.key} in run with id ${run.id}`);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/log-batch',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const raw = await readJson(req);
        await yieldToEventLoop();
        const body = parseRequest(LogBatchRequestSchema, raw, 'runs/log-batch');
        requireCount('metrics', body.metrics.length, MAX_POINTS_PER_BATCH);
        requireCount('params', body.params.length, MAX_PARAMS_PER_BATCH);
        requireCount('tags', body.tags.length, MAX_TAGS_PER_REQUEST);
        const run = await requireActiveRun(body);
        // Everything is checked before anything is written.
        body.metrics.forEach((m, i) => requireMetricPoint(m, `runs/log-batch metrics.${i}`));
        await requireNewParams(run.id, body.params);
        await new LogBatchWriter(store).writeParams(run.id, Object.fromEntries(body.params.map((p) => [p.key, p.value])));
        await writeMetrics(run, body.metrics);
        await store.setRunTags(run.id, body.tags);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/log-inputs',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(LogInputsRequestSchema, await readJson(req), 'runs/log-inputs');
        requireCount('datasets', body.datasets.length, MAX_INPUTS_PER_CALL);
        const run = await requireActiveRun(body);
        const inputs = body.datasets.map((d, i) => {
          requireCount(`tags of datasets.${i}`, d.tags.length, MAX_TAGS_PER_REQUEST);
          const context = tagValue(d.tags, DATASET_CONTEXT_TAG);
          return {
            name: d.dataset.name,
            digest: d.dataset.digest,
            sourceType: d.dataset.source_type,
            source: d.dataset.source,
            schema: d.dataset.schema ?? null,
            profile: d.dataset.profile ?? null,
            ...(context === undefined ? {} : { context }),
          };
        });
        // Every input is checked (names, lengths) before one transaction writes them all.
        inputs.forEach((input, i) => {
          try {
            requireDatasetInput(input, i);
          } catch (err) {
            throw new MlflowError('INVALID_PARAMETER_VALUE', `runs/log-inputs datasets.${i}: ${err instanceof Error ? err.message : String(err)}`);
          }
        });
        await store.logRunInputs(run.id, inputs);
        return {};
      },
    }),
    mlflowRoute(c, {
      method: 'POST',
      path: 'runs/search',
      write: false,
      response: SearchRunsResponseSchema,
      async handle({ req }) {
        const body = parseRequest(SearchRunsRequestSchema, await readJson(req), 'runs/search');
        const clauses = parseRunFilter(body.filter ?? '');
        const orderBy = body.order_by.map(parseRunOrderBy);
        const offset = body.page_token === undefined ? 0 : decodePageToken(body.page_token);
        if (offset === null) throw new MlflowError('INVALID_PARAMETER_VALUE', `invalid page_token "${body.page_token}": pass the next_page_token of the previous page`);
        const experimentIds = await Promise.all(body.experiment_ids.map(resolveExperimentId));
        const { runs, hasMore } = await store.filterRuns({ experimentIds, clauses, view: VIEW_TYPE[body.run_view_type], orderBy, skip: offset, take: body.max_results });
        const ids = runs.map((r) => r.id);
        const [tags, params, metrics, inputs] = await Promise.all([store.getRunTagsByRun(ids), store.paramsByRun(ids), store.latestMetricsByRun(ids), store.runInputs(ids)]);
        return {
          runs: runs.map((r) => runView(r, tags.get(r.id) ?? [], params.get(r.id) ?? [], metrics.get(r.id) ?? [], inputs.get(r.id) ?? [])),
          ...(hasMore ? { next_page_token: encodePageToken(offset + body.max_results) } : {}),
        };
      },
    }),

    // ---- metrics ----
    mlflowRoute(c, {
      method: 'GET',
      path: 'metrics/get-history',
      write: false,
      response: MetricHistoryResponseSchema,
      async handle({ url }) {
        const q = parseRequest(GetMetricHistoryRequestSchema, queryObject(url), 'metrics/get-history');
        const run = await requireRun(q);
        const offset = q.page_token === undefined ? 0 : decodePageToken(q.page_token);
        if (offset === null) throw new MlflowError('INVALID_PARAMETER_VALUE', `invalid page_token "${q.page_token}": pass the next_page_token of the previous page`);
        const points = await store.getMetricHistory(run.id, q.metric_key);
        const page = points.slice(offset, offset + q.max_results);
        const more = points.length > offset + q.max_results;
        return {
          metrics: page.map((p) => ({ key: q.metric_key, value: p.value, timestamp: ms(p.time), step: p.step })),
          ...(more ? { next_page_token: encodePageToken(offset + q.max_results) } : {}),
        };
      },
    }),
  ];
}
