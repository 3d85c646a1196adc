/**
 * The MLflow-compatible API over real HTTP and the real database: the calls an MLflow script makes
 * (create experiment, create a parent and a nested run with tags, log-batch, log-metric with steps,
 * get, get-history, search on the latest metric, params and tags, update to FINISHED, delete), the
 * response shapes of MLflow's REST API reference, and its error body `{ error_code, message }`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestDatabase } from '../support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from './api-coordinator.ts';

interface KeyValueJson {
  key: string;
  value: string;
}
interface MetricJson {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface RunInfoJson {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: number;
  end_time?: number;
  lifecycle_stage: string;
}
interface RunJson {
  info: RunInfoJson;
  data: { metrics: MetricJson[]; params: KeyValueJson[]; tags: KeyValueJson[] };
}
interface ExperimentJson {
  experiment_id: string;
  name: string;
  creation_time: number;
  tags: KeyValueJson[];
}
/** Every field a reply of this API may have (each test reads the ones its endpoint answers, and checks the key sets). */
interface BodyJson {
  error_code: string;
  message: string;
  experiment_id: string;
  experiment: ExperimentJson;
  experiments: ExperimentJson[];
  run: RunJson;
  runs: RunJson[];
  run_info: RunInfoJson;
  metrics: MetricJson[];
  next_page_token?: string;
}

interface Reply {
  status: number;
  body: BodyJson;
}

let t: ApiTestCoordinator;

/** POST (or GET with a query) against /api/2.0/mlflow/<path>; writes send the admin token unless `auth` says otherwise. */
async function ml(method: 'GET' | 'POST', path: string, payload?: Record<string, unknown> | string, auth: boolean | string = true): Promise<Reply> {
  let pathname = `/api/2.0/mlflow/${path}`;
  let body: unknown;
  if (method === 'GET') {
    if (payload !== undefined && typeof payload !== 'string') pathname += `?${new URLSearchParams(payload as Record<string, string>).toString()}`;
  } else body = payload ?? {};
  const res = await t.call(method, pathname, { body, admin: auth === true ? true : auth === false ? undefined : auth });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as BodyJson };
}

const RUN_INFO_KEYS = ['artifact_uri', 'experiment_id', 'lifecycle_stage', 'run_id', 'run_name', 'run_uuid', 'start_time', 'status', 'user_id'];
const EXPERIMENT_KEYS = ['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name', 'tags'];

function expectError(reply: Reply, status: number, code: string, message?: RegExp): void {
  expect(reply.status).toBe(status);
  expect(Object.keys(reply.body).sort()).toEqual(['error_code', 'message']);
  expect(reply.body.error_code).toBe(code);
  if (message) expect(reply.body.message).toMatch(message);
}

describe('MLflow-compatible API', () => {
  beforeAll(async () => {
    t = await startApiTestCoordinator();
  });
  afterAll(async () => {
    await t.cleanup();
    await dropTestDatabase(t.dataDir);
  });

  it('runs the calls of an MLflow tracking script, with MLflow\'s request and response shapes', async () => {
    // mlflow.set_experiment: get-by-name (missing), then create.
    expectError(await ml('GET', 'experiments/get-by-name', { experiment_name: 'mlflow-vision' }), 404, 'RESOURCE_DOES_NOT_EXIST', /Could not find experiment with name 'mlflow-vision'/);
    const created = await ml('POST', 'experiments/create', { name: 'mlflow-vision', tags: [{ key: 'team', value: 'vision' }] });
    expect(created.status).toBe(200);
    expect(Object.keys(created.body)).toEqual(['experiment_id']);
    const expId = created.body.experiment_id;
    expectError(await ml('POST', 'experiments/create', { name: 'mlflow-vision' }), 400, 'RESOURCE_ALREADY_EXISTS', /Experiment 'mlflow-vision' already exists/);
    const byName = await ml('GET', 'experiments/get-by-name', { experiment_name: 'mlflow-vision' });
    expect(byName.status).toBe(200);
    expect(Object.keys(byName.body.experiment).sort()).toEqual(EXPERIMENT_KEYS);
    expect(byName.body.experiment).toMatchObject({ experiment_id: expId, name: 'mlflow-vision', lifecycle_stage: 'active', tags: [{ key: 'team', value: 'vision' }] });
    expect(typeof byName.body.experiment.creation_time).toBe('number');
    expect((await ml('GET', 'experiments/get', { experiment_id: expId })).body.experiment.name).toBe('mlflow-vision');

    // mlflow.start_run(run_name=...), then a nested run (tag mlflow.parentRunId).
    const start = 1_767_000_000_000;
    const parentReply = await ml('POST', 'runs/create', { experiment_id: expId, run_name: 'sweep-parent', start_time: start, user_id: 'ana', tags: [{ key: 'team', value: 'vision' }] });
    expect(parentReply.status).toBe(200);
    const parent = parentReply.body.run;
    expect(Object.keys(parent).sort()).toEqual(['data', 'info', 'inputs']);
    expect(Object.keys(parent.info).sort()).toEqual(RUN_INFO_KEYS); // no end_time until it ends
    expect(parent.info).toMatchObject({ run_name: 'sweep-parent', experiment_id: expId, status: 'RUNNING', start_time: start, user_id: 'ana', lifecycle_stage: 'active' });
    expect(parent.info.run_uuid).toBe(parent.info.run_id);
    expect(parent.data).toEqual({
      metrics: [],
      params: [],
      tags: [
        { key: 'mlflow.runName', value: 'sweep-parent' },
        { key: 'mlflow.user', value: 'ana' },
        { key: 'team', value: 'vision' },
      ],
    });
    const parentId = parent.info.run_id;
    const child = (await ml('POST', 'runs/create', { experiment_id: expId, start_time: start + 1000, tags: [{ key: 'mlflow.runName', value: 'trial-1' }, { key: 'mlflow.parentRunId', value: parentId }] })).body.run;
    expect(child.info.run_name).toBe('trial-1');
    const childId = child.info.run_id;
    // The parent is a real column (the runs table's tree) and the run is an external run.
    const row = await t.db.prisma.run.findUniqueOrThrow({ where: { id: childId } });
    expect(row).toMatchObject({ parentRunId: parentId, mode: 'external', status: 'running' });
    expect(row.startedAt?.getTime()).toBe(start + 1000);

    // mlflow.log_params / log_metrics / set_tags in one batch, then log_metric with steps.
    const batch = await ml('POST', 'runs/log-batch', {
      run_id: childId,
      metrics: [
        { key: 'acc', value: 0.2, timestamp: start + 10, step: 0 },
        { key: 'acc', value: 0.95, timestamp: start + 20, step: 1 },
        { key: 'loss', value: 1.5, timestamp: start + 10, step: 0 },
      ],
      params: [
        { key: 'optimizer', value: 'adam' },
        { key: 'lr', value: '0.001' },
      ],
      tags: [{ key: 'team', value: 'vision' }],
    });
    expect(batch).toEqual({ status: 200, body: {} });
    expect((await ml('POST', 'runs/log-metric', { run_id: childId, key: 'acc', value: 0.6, timestamp: start + 30, step: 2 })).status).toBe(200);
    // int64 fields as decimal strings (protobuf's JSON mapping) are accepted too.
    expect((await ml('POST', 'runs/log-metric', { run_id: childId, key: 'loss', value: 0.7, timestamp: String(start + 30), step: '2' })).status).toBe(200);
    expect((await ml('POST', 'runs/log-parameter', { run_id: childId, key: 'lr', value: '0.001' })).status).toBe(200); // same value: idempotent
    expectError(await ml('POST', 'runs/log-parameter', { run_id: childId, key: 'lr', value: '0.1' }), 400, 'INVALID_PARAMETER_VALUE', /Changing param values is not allowed\. Param with key='lr' was already logged with value='0\.001'/);
    expect((await ml('POST', 'runs/set-tag', { run_id: childId, key: 'stage', value: 'draft' })).status).toBe(200);

    // runs/get: latest metric values (step 2 beats step 1's larger value), params, tags.
    const got = (await ml('GET', 'runs/get', { run_id: childId })).body.run;
    expect(got.data.metrics).toEqual([
      { key: 'acc', value: 0.6, timestamp: start + 30, step: 2 },
      { key: 'loss', value: 0.7, timestamp: start + 30, step: 2 },
    ]);
    expect(got.data.params).toEqual([
      { key: 'lr', value: '0.001' },
      { key: 'optimizer', value: 'adam' },
    ]);
    expect(got.data.tags).toEqual([
      { key: 'mlflow.parentRunId', value: parentId },
      { key: 'mlflow.runName', value: 'trial-1' },
      { key: 'stage', value: 'draft' },
      { key: 'team', value: 'vision' },
    ]);

    // metrics/get-history: every point in step order, paged.
    const history = await ml('GET', 'metrics/get-history', { run_id: childId, metric_key: 'acc' });
    expect(history.body).toEqual({
      metrics: [
        { key: 'acc', value: 0.2, timestamp: start + 10, step: 0 },
        { key: 'acc', value: 0.95, timestamp: start + 20, step: 1 },
        { key: 'acc', value: 0.6, timestamp: start + 30, step: 2 },
      ],
    });
    const page1 = (await ml('GET', 'metrics/get-history', { run_id: childId, metric_key: 'acc', max_results: '2' })).body;
    expect(page1.metrics.map((m: { step: number }) => m.step)).toEqual([0, 1]);
    const page2 = (await ml('GET', 'metrics/get-history', { run_id: childId, metric_key: 'acc', max_results: '2', page_token: page1.next_page_token as string })).body;
    expect(page2).toEqual({ metrics: [{ key: 'acc', value: 0.6, timestamp: start + 30, step: 2 }] });

    // The run shows in the dashboard's run list beside fleet runs, as an external run.
    const listed = (await (await t.call('GET', '/api/v1/runs?experiment=mlflow-vision')).json()) as { runs: { id: string; external: boolean; step: number }[] };
    expect(listed.runs.find((r) => r.id === childId)).toMatchObject({ external: true, step: 2 });

    // mlflow.end_run(): FINISHED with the script's end time.
    const updated = await ml('POST', 'runs/update', { run_id: childId, status: 'FINISHED', end_time: start + 5000 });
    expect(updated.status).toBe(200);
    expect(Object.keys(updated.body)).toEqual(['run_info']);
    expect(updated.body.run_info).toMatchObject({ run_id: childId, status: 'FINISHED', end_time: start + 5000 });
    expect(await t.db.prisma.run.findUniqueOrThrow({ where: { id: childId }, select: { status: true, endedAt: true } })).toEqual({ status: 'finished', endedAt: new Date(start + 5000) });
    const renamed = await ml('POST', 'runs/update', { run_id: childId, run_name: 'trial-1b' });
    expect(renamed.body.run_info).toMatchObject({ run_name: 'trial-1b', status: 'FINISHED' });
    expect((await ml('GET', 'runs/get', { run_id: childId })).body.run.data.tags).toContainEqual({ key: 'mlflow.runName', value: 'trial-1b' });

    // MlflowClient.delete_run: soft; hidden from ACTIVE_ONLY searches, shown as deleted, restorable.
    expect((await ml('POST', 'runs/delete', { run_id: childId })).body).toEqual({});
    const active = (await ml('POST', 'runs/search', { experiment_ids: [expId] })).body.runs.map((r: MlflowRunLike) => r.info.run_id);
    expect(active).toEqual([parentId]);
    const deleted = (await ml('POST', 'runs/search', { experiment_ids: [expId], run_view_type: 'DELETED_ONLY' })).body.runs;
    expect(deleted.map((r: MlflowRunLike) => [r.info.run_id, r.info.lifecycle_stage])).toEqual([[childId, 'deleted']]);
    expect((await ml('GET', 'runs/get', { run_id: childId })).body.run.info.lifecycle_stage).toBe('deleted');
    // It leaves the dashboard's lists too (and stays readable by id).
    expect((await t.coordinator.store.searchRuns({ take: 100 })).runs.map((r) => r.id)).not.toContain(childId);
    expect((await t.coordinator.store.listRuns({ take: 100 })).map((r) => r.id)).not.toContain(childId);
    expect(await t.coordinator.store.getRun(childId)).not.toBeNull();
    expectError(await ml('POST', 'runs/log-metric', { run_id: childId, key: 'acc', value: 1, timestamp: start }), 400, 'INVALID_STATE', /must be in the 'active' state/);
    expect((await ml('POST', 'runs/restore', { run_id: childId })).status).toBe(200);
    expect((await ml('GET', 'runs/get', { run_id: childId })).body.run.info.lifecycle_stage).toBe('active');
    expect(await t.db.prisma.metric.count({ where: { runId: childId } })).toBe(5); // delete kept every row
  });

  it('searches on the latest value of a metric, params, tags and attributes, sorted and paged', async () => {
    const expId = (await ml('POST', 'experiments/create', { name: 'mlflow-search' })).body.experiment_id;
    const t0 = 1_767_100_000_000;
    const make = async (name: string, startOffset: number, opts: { acc: [number, number, number][]; optimizer: string; team?: string }): Promise<string> => {
      const id = (await ml('POST', 'runs/create', { experiment_id: expId, run_name: name, start_time: t0 + startOffset, tags: opts.team ? [{ key: 'team', value: opts.team }] : [] })).body.run.info.run_id;
      const reply = await ml('POST', 'runs/log-batch', {
        run_id: id,
        metrics: opts.acc.map(([step, value, ts]) => ({ key: 'acc', value, step, timestamp: t0 + ts })),
        params: [{ key: 'optimizer.name', value: opts.optimizer }],
      });
      expect(reply.status).toBe(200);
      return id;
    };
    // peaked: its best acc (0.95) passes > 0.8 but its latest (0.6) does not.
    const peaked = await make('peaked', 1, { acc: [[0, 0.2, 1], [1, 0.95, 2], [2, 0.6, 3]], optimizer: 'adam', team: 'vision' });
    const steady = await make('steady', 2, { acc: [[0, 0.9, 1]], optimizer: 'adam', team: 'vision' });
    // tie: two points at step 5; the later one (0.85) is the latest although it is smaller.
    const tie = await make('tie', 3, { acc: [[5, 0.99, 1], [5, 0.85, 2]], optimizer: 'adam', team: 'vision' });
    const sgd = await make('sgd', 4, { acc: [[0, 0.97, 1]], optimizer: 'sgd', team: 'vision' });
    const untagged = await make('untagged', 5, { acc: [[0, 0.99, 1]], optimizer: 'adam' });

    const search = async (filter: string, extra: Record<string, unknown> = {}) => {
      const reply = await ml('POST', 'runs/search', { experiment_ids: [expId], filter, ...extra });
      expect(reply.status).toBe(200);
      return (reply.body.runs).map((r) => r.info.run_id);
    };
    const byStartDesc = (ids: string[]) => ids; // runs/search's default order is start_time DESC
    expect(await search("metrics.acc > 0.8 and params.optimizer.name = 'adam' and tags.team = 'vision'")).toEqual(byStartDesc([tie, steady]));
    expect(await search('metrics.acc < 0.7')).toEqual([peaked]);
    expect(await search('metrics.acc = 0.85')).toEqual([tie]);
    expect(await search("params.`optimizer.name` != 'adam'")).toEqual([sgd]);
    expect(await search("tags.team != 'vision'")).toEqual([]); // MLflow: != never matches a run without the tag
    expect(await search("tags.team LIKE 'vis%' and metrics.acc >= 0.97")).toEqual([sgd]);
    expect(await search("tags.team ILIKE 'VIS%'")).toHaveLength(4);
    expect(await search("attributes.run_name LIKE 'st%'")).toEqual([steady]);
    expect(await search("attributes.status = 'RUNNING'")).toHaveLength(5);
    expect(await search("attributes.status = 'running'")).toHaveLength(5); // crowdtrain's name works too
    expect(await search(`attributes.start_time >= ${t0 + 4}`)).toEqual([untagged, sgd]);
    expect(await search(`attributes.run_id IN ('${steady}', '${sgd}')`)).toEqual([sgd, steady]);
    expect(await search('metrics.missing > 0')).toEqual([]);

    const ordered = await search('', { order_by: ['metrics.acc DESC'] });
    expect(ordered).toEqual([untagged, sgd, steady, tie, peaked]);
    expect(await search('', { order_by: ['attributes.run_name ASC'] })).toEqual([peaked, sgd, steady, tie, untagged]);
    // Paging: max_results with next_page_token until it is absent.
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const reply = await ml('POST', 'runs/search', { experiment_ids: [expId], order_by: ['metrics.acc DESC'], max_results: 2, ...(token ? { page_token: token } : {}) });
      seen.push(...(reply.body.runs).map((r) => r.info.run_id));
      token = reply.body.next_page_token;
      if (token === undefined) break;
    }
    expect(seen).toEqual(ordered);
    // Search results carry the latest metrics and params, as runs/get does.
    const one = (await ml('POST', 'runs/search', { experiment_ids: [expId], filter: `attributes.run_id = '${peaked}'` })).body.runs[0] as MlflowRunLike;
    expect(one.data.metrics).toEqual([{ key: 'acc', value: 0.6, timestamp: t0 + 3, step: 2 }]);
    expect(one.data.params).toEqual([{ key: 'optimizer.name', value: 'adam' }]);

    // experiments/search with MLflow's filter on names and tags.
    const exps = (await ml('POST', 'experiments/search', { filter: "name LIKE 'mlflow-%' and tags.team = 'vision'" })).body.experiments as { name: string }[];
    expect(exps.map((e) => e.name)).toEqual(['mlflow-vision']);
  });

  it('keeps the mlflow.parentRunId tag and the parent column in step, refusing cycles, and mlflow.runName with the name', async () => {
    const expId = (await ml('POST', 'experiments/create', { name: 'mlflow-nesting' })).body.experiment_id;
    const create = async (tags: { key: string; value: string }[] = []) => (await ml('POST', 'runs/create', { experiment_id: expId, tags })).body.run.info.run_id;
    const a = await create();
    const b = await create([{ key: 'mlflow.parentRunId', value: a }]);
    const c = await create([{ key: 'mlflow.parentRunId', value: b }]);
    const parentOf = async (id: string) => (await t.db.prisma.run.findUniqueOrThrow({ where: { id }, select: { parentRunId: true } })).parentRunId;
    expect([await parentOf(b), await parentOf(c)]).toEqual([a, b]);
    expectError(await ml('POST', 'runs/set-tag', { run_id: a, key: 'mlflow.parentRunId', value: c }), 400, 'INVALID_PARAMETER_VALUE', /cannot be nested under .*a cycle/);
    expectError(await ml('POST', 'runs/set-tag', { run_id: a, key: 'mlflow.parentRunId', value: a }), 400, 'INVALID_PARAMETER_VALUE', /the run itself/);
    expect(await parentOf(a)).toBeNull(); // the refused tag wrote nothing
    expect((await ml('POST', 'runs/delete-tag', { run_id: c, key: 'mlflow.parentRunId' })).status).toBe(200);
    expect(await parentOf(c)).toBeNull();
    expect((await ml('POST', 'runs/set-tag', { run_id: c, key: 'mlflow.parentRunId', value: a })).status).toBe(200);
    expect(await parentOf(c)).toBe(a);
    expect(await ml('POST', 'runs/search', { experiment_ids: [expId], filter: `tags.mlflow.parentRunId = '${a}'` }).then((r) => (r.body.runs).map((x) => x.info.run_id).sort())).toEqual([b, c].sort());
    expect((await ml('POST', 'runs/set-tag', { run_id: c, key: 'mlflow.runName', value: 'renamed-by-tag' })).status).toBe(200);
    expect((await ml('GET', 'runs/get', { run_id: c })).body.run.info.run_name).toBe('renamed-by-tag');
  });

  it('answers MLflow error bodies with MLflow statuses for bad requests, auth, and unsupported routes', async () => {
    // Writes need the admin token (MLFLOW_TRACKING_TOKEN); reads do not.
    expectError(await ml('POST', 'experiments/create', { name: 'x' }, false), 401, 'UNAUTHENTICATED', /MLFLOW_TRACKING_TOKEN/);
    expectError(await ml('POST', 'experiments/create', { name: 'x' }, 'Bearer wrong-token-wrong-token'), 403, 'PERMISSION_DENIED');
    expect((await ml('POST', 'experiments/search', {}, false)).status).toBe(200);
    // Unknown ids, bad bodies, bad filters.
    expectError(await ml('GET', 'runs/get', { run_id: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', /Run with id=nope not found/);
    expectError(await ml('GET', 'experiments/get', { experiment_id: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    expectError(await ml('POST', 'runs/create', { experiment_id: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    expectError(await ml('POST', 'runs/create', { tags: 'team=vision' }), 400, 'INVALID_PARAMETER_VALUE', /invalid runs\/create request: tags:/);
    expectError(await ml('POST', 'runs/create', '{not json'), 400, 'INVALID_PARAMETER_VALUE', /not valid JSON/);
    const expId = (await ml('POST', 'experiments/create', { name: 'mlflow-errors' })).body.experiment_id;
    expectError(await ml('POST', 'runs/create', { experiment_id: expId, tags: [{ key: 'mlflow.parentRunId', value: 'no-such-run' }] }), 404, 'RESOURCE_DOES_NOT_EXIST', /parent run no-such-run/);
    expect(await t.db.prisma.run.count({ where: { experimentId: expId } })).toBe(0); // a refused create writes nothing
    const runId = (await ml('POST', 'runs/create', { experiment_id: expId })).body.run.info.run_id;
    expectError(await ml('POST', 'runs/search', { experiment_ids: [expId], filter: 'metrics.acc > 1 or metrics.acc < 0' }), 400, 'INVALID_PARAMETER_VALUE', /column 17 \("or"\).*no OR/);
    expectError(await ml('POST', 'runs/search', { experiment_ids: [expId], order_by: ['attributes.colour'] }), 400, 'INVALID_PARAMETER_VALUE', /not a sortable run attribute/);
    expectError(await ml('POST', 'runs/search', { experiment_ids: [expId], page_token: 'garbage' }), 400, 'INVALID_PARAMETER_VALUE', /invalid page_token/);
    expectError(await ml('POST', 'runs/delete-tag', { run_id: runId, key: 'absent' }), 404, 'RESOURCE_DOES_NOT_EXIST', /No tag with name: absent/);
    // The REST API's bounds: metric values finite, 32-bit steps, at most 10,000 points per batch; nothing written on refusal.
    expectError(await ml('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 'NaN', timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /finite values only/);
    expectError(await ml('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 1, timestamp: 1, step: 2 ** 31 }), 400, 'INVALID_PARAMETER_VALUE', /32-bit/);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ key: 'loss', value: i, timestamp: 1, step: i }));
    expectError(await ml('POST', 'runs/log-batch', { run_id: runId, metrics: tooMany }), 400, 'INVALID_PARAMETER_VALUE', /at most 10000 metrics, got 10001/);
    expectError(
      await ml('POST', 'runs/log-batch', { run_id: runId, metrics: [{ key: 'ok', value: 1, timestamp: 1 }], params: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Duplicate parameter keys/,
    );
    expect(await t.db.prisma.metric.count({ where: { runId } })).toBe(0);
    // Unsupported MLflow routes say so; a known route with the wrong method is a 405.
    expectError(await ml('POST', 'registered-models/create', { name: 'm' }), 404, 'ENDPOINT_NOT_FOUND', /model registry routes are not supported yet/);
    const artifacts = await t.call('GET', '/api/2.0/mlflow-artifacts/artifacts?path=x');
    expectError({ status: artifacts.status, body: (await artifacts.json()) as BodyJson }, 404, 'ENDPOINT_NOT_FOUND', /artifacts are not supported yet/);
    expectError(await ml('GET', 'runs/create'), 405, 'BAD_REQUEST', /allowed: POST/);
    // A fleet run's status follows training: runs/update refuses to change it.
    const fleetLike = await t.db.prisma.run.create({ data: { experimentId: expId, name: 'fleet', mode: 'ddp', config: '{}', seed: 1, totalUpdates: 10 } });
    expectError(await ml('POST', 'runs/update', { run_id: fleetLike.id, status: 'KILLED' }), 400, 'INVALID_STATE', /trained by this coordinator/);
    // The default experiment id "0" of MLflow clients names the "Default" experiment.
    const inDefault = (await ml('POST', 'runs/create', { experiment_id: '0', run_name: 'no-experiment-set' })).body.run;
    const defaultExp = await t.db.prisma.experiment.findUniqueOrThrow({ where: { name: 'Default' } });
    expect(inDefault.info.experiment_id).toBe(defaultExp.id);
  });
});

type MlflowRunLike = RunJson;
