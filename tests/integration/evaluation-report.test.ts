import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { EVALUATION_REPORT_EVENT, EvaluationReportSchema, type EvaluationReport } from '../../core/api/evaluation-report.ts';
import { metricClassNames } from '../../core/metrics/classification-report.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { startTestCoordinator, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let t: TestCoordinator | null = null;
let worker: TestWorker | null = null;
// The coordinator and the test worker run in this process: one file source serves both.
beforeAll(() => installNodeDatasetFiles({ baseDir: ROOT }));
afterAll(async () => {
  await worker?.close();
  await t?.cleanup();
  installDatasetFileSource(null);
});

describe('evaluation reports of a classifier run', () => {
  it('records a report per evaluation (confusion matrix over the test split, per-class and averaged scores) that GET /api/v1/runs/:id/evaluation serves, matching the logged metrics', async () => {
    // The loans csv data set: three named classes, 300 test rows.
    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const config = validateRunConfig({ ...example, name: 'eval-report', total_updates: 20, eval_every: 10, checkpoint_every: 1000, batch_size: 32, min_workers: 1 });
    const local = await loadDataset(config.dataset);
    const classes = local.csv!.transform.label.classes;
    expect(classes).toHaveLength(3);

    t = await startTestCoordinator();
    const { url } = t.coordinator;
    worker = await joinTestWorker({ url, token: t.token, name: 'eval-report' });
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const { store } = t.coordinator;
    const runId = session.runId;

    const get = async (route: string): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(`${url}${route}`);
      return { status: res.status, body: (await res.json()) as unknown };
    };

    // The latest report: the evaluation at step 20.
    const latest = await get(`/api/v1/runs/${runId}/evaluation`);
    expect(latest.status).toBe(200);
    const report: EvaluationReport = EvaluationReportSchema.parse(latest.body);
    expect(report).toMatchObject({ runId, step: 20, classes });
    const k = classes.length;
    expect(report.confusion.map((row) => row.length)).toEqual([k, k, k]);
    const total = report.confusion.flat().reduce((a, v) => a + v, 0);
    const trace = report.confusion.reduce((a, row, i) => a + row[i]!, 0);
    expect(total).toBe(local.test.size);
    // Row sums are the classes' test samples.
    const support = Array.from({ length: k }, (_, c) => Array.from(local.test.labels).filter((l) => l === c).length);
    expect(report.per_class.map((c) => c.support)).toEqual(support);

    // The run's last eval_accuracy is the matrix's trace / total; the macro metrics are the report's.
    const last = async (key: string) => (await store.getMetricHistory(runId, key)).at(-1);
    const accuracy = await last('eval_accuracy');
    expect(accuracy?.step).toBe(20);
    expect(accuracy?.value).toBe(trace / total);
    expect(report.accuracy).toBe(trace / total);
    expect((await last('eval_macro_precision'))?.value).toBe(report.macro.precision);
    expect((await last('eval_macro_recall'))?.value).toBe(report.macro.recall);
    expect((await last('eval_macro_f1'))?.value).toBe(report.macro.f1);
    // Per class too (3 classes, under the 32-class limit), keyed by the class's name.
    const names = metricClassNames(classes);
    for (const [i, c] of report.per_class.entries()) {
      expect((await last(`eval_precision/${names[i]}`))?.value).toBe(c.precision);
      expect((await last(`eval_recall/${names[i]}`))?.value).toBe(c.recall);
      expect((await last(`eval_f1/${names[i]}`))?.value).toBe(c.f1);
    }
    expect((await store.getMetricHistory(runId, 'eval_macro_f1')).map((p) => p.step)).toEqual([10, 20]);

    // One Event per evaluation; ?step=N picks one.
    const events = (await store.listEvents(runId)).filter((e) => e.kind === EVALUATION_REPORT_EVENT);
    expect(events.map((e) => (e.detail as { step: number }).step)).toEqual([10, 20]);
    const first = await get(`/api/v1/runs/${runId}/evaluation?step=10`);
    expect(first.status).toBe(200);
    const early = EvaluationReportSchema.parse(first.body);
    expect(early.step).toBe(10);
    expect(early.confusion.flat().reduce((a, v) => a + v, 0)).toBe(local.test.size);
    const accuracy10 = (await store.getMetricHistory(runId, 'eval_accuracy')).find((p) => p.step === 10);
    expect(early.accuracy).toBe(accuracy10?.value);

    // Clear errors for a missing report, a missing run and a malformed query.
    const none = await get(`/api/v1/runs/${runId}/evaluation?step=15`);
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ error: { code: 'RUN_NOT_FOUND', message: expect.stringMatching(new RegExp(`run ${runId} has no evaluation report at step 15`)) as unknown } });
    const noRun = await get('/api/v1/runs/no-such-run/evaluation');
    expect(noRun.status).toBe(404);
    expect(noRun.body).toMatchObject({ error: { code: 'RUN_NOT_FOUND', message: 'no run with id no-such-run' } });
    const badStep = await get(`/api/v1/runs/${runId}/evaluation?step=ten`);
    expect(badStep.status).toBe(400);
    expect(badStep.body).toMatchObject({ error: { code: 'INVALID_MESSAGE', message: expect.stringMatching(/step must be a non-negative integer/) as unknown } });
    const unknownParam = await get(`/api/v1/runs/${runId}/evaluation?stp=10`);
    expect(unknownParam.status).toBe(400);

    // An external run (never evaluated here) has no report.
    const ext = await store.createRun({
      experimentId: (await store.ensureExperiment('integration')).id,
      name: 'tracked-only',
      mode: 'external',
      config: { external: true },
      seed: 0,
      totalUpdates: 0,
    });
    const noReport = await get(`/api/v1/runs/${ext.id}/evaluation`);
    expect(noReport.status).toBe(404);
    expect(noReport.body).toMatchObject({ error: { code: 'RUN_NOT_FOUND', message: expect.stringMatching(/has no evaluation report: it has not been evaluated yet/) as unknown } });
  });
});
