import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { ApiErrorSchema, CreatedRunSchema } from '../../core/api/index.ts';
import { MAX_PARAMS_PER_BATCH, MAX_POINTS_PER_BATCH } from '../../coordinator/http/routes/runs.ts';
import { EventLoopMonitor } from '../../coordinator/metrics/event-loop-monitor.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';
import { slowedTasks } from '../integration/support/slowed-tasks.ts';
import { watchResponsiveness } from '../integration/support/responsiveness-probe.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from '../integration/api/api-coordinator.ts';

/** The bound (issue 15, item 4) on the coordinator's event-loop delay while a maximal batch is logged. */
const P99_BOUND_MS = 100;

/** `count` flat params spread over nested groups (they flatten to `count` dotted keys), about 100 bytes each. */
function maximalParams(count: number): Record<string, Record<string, unknown>> {
  const params: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < count; i++) {
    const group = (params[`group_${i % 100}`] ??= {});
    group[`hyperparameter_number_${i}`] = i % 3 === 0 ? `value-${i}-${'x'.repeat(24)}` : i % 3 === 1 ? i * 0.125 : [i, i + 1];
  }
  return params;
}

describe('logging a maximal batch keeps the coordinator responsive (issue 15, item 4)', () => {
  let t: ApiTestCoordinator;
  let externalId: string;
  let worker: TestWorker | null = null;

  beforeAll(async () => {
    t = await startApiTestCoordinator();
    externalId = CreatedRunSchema.parse(await (await t.call('POST', '/api/v1/runs/external', { admin: true, body: { name: 'log-target' } })).json()).run.id;
  });
  afterAll(async () => {
    await worker?.close();
    await t?.cleanup();
  });

  it('refuses more params than the limit with 400 naming it, and writes none of them', async () => {
    // The request: about 60,000 params.
    const res = await t.call('POST', `/api/v1/runs/${externalId}/log`, { admin: true, body: { params: maximalParams(60_000) } });
    expect(res.status).toBe(400);
    const err = ApiErrorSchema.parse(await res.json()).error;
    expect(err.code).toBe('OVERSIZED');
    expect(err.message).toContain(`60000 params (after flattening) exceed the limit of ${MAX_PARAMS_PER_BATCH} per request`);
    expect(Object.keys(await t.coordinator.store.getParams(externalId))).toHaveLength(0);
  });

  it('while a maximal params + metrics batch is written, /healthz answers, the event-loop p99 stays within the bound and a run keeps training', async () => {
    const c = t.coordinator;
    // A real worker loop on a real socket, paced like a real model's compute (4 ms a sample,
    // 32 ms a step: about the 30 updates/s of the run) without burning a core.
    worker = await joinTestWorker({ url: c.url, token: c.workerToken, name: 'paced', tasks: slowedTasks(4) });
    const session = await c.startRun(
      validateRunConfig(syntheticConfig({ name: 'trains-meanwhile', total_updates: 100_000, eval_every: 100_000, checkpoint_every: 100_000, step_timeout: '120s' })),
    );
    let steps = 0;
    c.events.on('update', () => steps++);
    await new Promise<void>((resolve) => c.events.once('update', () => resolve()));
    // The quiet rate and event-loop delay, measured the same way just before.
    const quietLoop = new EventLoopMonitor().start();
    const quietFrom = performance.now();
    const quietSteps = steps;
    await sleep(2000);
    const quietRate = (steps - quietSteps) / ((performance.now() - quietFrom) / 1000);
    const quiet = quietLoop.takeWindow();
    quietLoop.stop();

    const params = maximalParams(MAX_PARAMS_PER_BATCH);
    const metrics = Array.from({ length: MAX_POINTS_PER_BATCH }, (_, i) => ({ key: `external/metric_${i % 10}`, step: Math.floor(i / 10), value: Math.sin(i) }));
    const body = JSON.stringify({ params, metrics });
    const watch = watchResponsiveness(c.url);
    const stepsBefore = steps;
    const started = performance.now();
    const res = await t.call('POST', `/api/v1/runs/${externalId}/log`, { admin: true, body });
    const requestMs = performance.now() - started;
    const stepsDuring = steps - stepsBefore;
    const rateDuring = stepsDuring / (requestMs / 1000);
    const { delay, probe } = await watch.stop();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ runId: externalId, logged: { metrics: MAX_POINTS_PER_BATCH, params: 100 } });

    // Everything was written, as one logParams / logMetrics call would have written it.
    const stored = await c.store.getParams(externalId);
    expect(Object.keys(stored)).toHaveLength(MAX_PARAMS_PER_BATCH);
    expect(stored['group_0.hyperparameter_number_0']).toBe(`value-0-${'x'.repeat(24)}`);
    expect(stored['group_1.hyperparameter_number_1']).toBe('0.125');
    expect(stored['group_2.hyperparameter_number_2']).toBe('[2,3]');
    const history = await c.store.getMetricHistory(externalId, 'external/metric_7');
    expect(history).toHaveLength(MAX_POINTS_PER_BATCH / 10);
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: MAX_POINTS_PER_BATCH / 10 }, (_, i) => i));
    expect(history[3]?.value).toBe(Math.sin(37));
    expect((await c.store.getRun(externalId))?.step).toBe(MAX_POINTS_PER_BATCH / 10 - 1);

    await session.stop();
    console.log(
      `log batch (${(body.length / 1e6).toFixed(2)} MB, written in ${requestMs.toFixed(0)} ms): event-loop p99 ${delay?.p99Ms.toFixed(1)} ms, max ${delay?.maxMs.toFixed(1)} ms over ${delay?.samples} samples; /healthz answered ${probe.answered} times (longest ${probe.longestMs.toFixed(0)} ms); the run applied ${stepsDuring} updates meanwhile (${rateDuring.toFixed(1)}/s; quiet: ${quietRate.toFixed(1)}/s, event-loop p99 ${quiet?.p99Ms.toFixed(1)} ms)`,
    );
    expect(probe.failed).toBe(0);
    expect(probe.answered).toBeGreaterThan(0);
    // Training went on (the issue saw it fall from 31.7 to 0.08 updates/s).
    expect(stepsDuring).toBeGreaterThan(0);
    expect(rateDuring).toBeGreaterThanOrEqual(0.25 * quietRate);
    expect(delay).not.toBeNull();
    expect(delay!.p99Ms, `event-loop p99 while logging (quiet before: ${quiet?.p99Ms.toFixed(1)} ms)`).toBeLessThanOrEqual(P99_BOUND_MS);
  });
});
