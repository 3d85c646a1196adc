import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FeatureImportanceSchema } from '../../core/api/feature-importance.ts';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { startTestCoordinator, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
beforeAll(() => installNodeDatasetFiles({ baseDir: ROOT }));
afterAll(() => installDatasetFileSource(null));
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

describe('feature importance of a finished csv run', () => {
  it('is stored when the run finishes: one entry per source column, the final evaluation as baseline, the strongest driver on top', async () => {
    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const config = validateRunConfig({ ...example, total_updates: 60, batch_size: 32, global_batch_size: 64, min_workers: 2, eval_every: 30, checkpoint_every: 1000 });
    const { csv } = await loadDataset(config.dataset);

    t = await startTestCoordinator();
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1].map((i) => joinTestWorker({ url, token: t!.token, name: `fi${i}` })));
    const session = await t.coordinator.startRun(config);
    const before = await fetch(`${url}/api/v1/runs/${session.runId}/feature-importance`);
    expect(before.status).toBe(404);
    expect(await before.text()).toMatch(/has no feature importance/);

    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const res = await fetch(`${url}/api/v1/runs/${session.runId}/feature-importance`);
    expect(res.status).toBe(200);
    const fi = FeatureImportanceSchema.parse(await res.json());
    console.log(`feature importance: ${fi.columns.map((c) => `${c.column} ${c.accuracy_drop_mean.toFixed(3)}±${c.accuracy_drop_std.toFixed(3)}`).join(', ')}`);
    expect([fi.step, fi.repeats, fi.metric, fi.truncated, fi.total_columns]).toEqual([60, 5, 'accuracy', false, 6]);
    expect(fi.columns.map((c) => c.column).sort()).toEqual(csv!.transform.features.map((f) => f.column).sort());
    const acc = await t.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy');
    expect(acc.at(-1)!.step).toBe(60);
    expect(fi.baseline.accuracy).toBe(acc.at(-1)!.value);
    // generate-loans.ts: the score moves most with debt_ratio (3 x its 0.25 spread) and income (0.03 x ~23),
    // least with age (0.01 x ~15, and partly told by employment already).
    const drop = (column: string) => fi.columns.find((c) => c.column === column)!.accuracy_drop_mean;
    expect(fi.columns.slice(0, 2).map((c) => c.column).sort()).toEqual(['debt_ratio', 'income']);
    for (const column of ['debt_ratio', 'income', 'late_payments']) expect(drop(column)).toBeGreaterThan(drop('age'));
    expect(fi.columns[0]!.accuracy_drop_mean).toBeGreaterThan(0.05);
    // Sorted by mean accuracy drop, largest first; each column's mean also logged as a metric at the final step.
    expect(fi.columns.map((c) => c.accuracy_drop_mean)).toEqual(fi.columns.map((c) => c.accuracy_drop_mean).sort((a, b) => b - a));
    for (const c of fi.columns) {
      const history = await t.coordinator.store.getMetricHistory(session.runId, `importance/${c.column}`);
      expect(history.map((p) => [p.step, p.value])).toEqual([[60, c.accuracy_drop_mean]]);
    }
    const events = await t.coordinator.store.listEvents(session.runId, { kind: 'feature_importance' });
    expect(events).toHaveLength(1);
  });
});
