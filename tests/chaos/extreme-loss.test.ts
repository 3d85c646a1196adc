import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig, waitForWorkers } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

describe('a worker-reported loss at the edge of float64 (issue 15, item 15)', () => {
  it('a loss of 1e308 gives a finite, sample-weighted train_loss that is stored and read back, not Infinity dropped', async () => {
    const t = await chaos.start();
    const honest = await chaos.join({ name: 'honest' });
    // Reports loss 1e308 with an honest gradient: sum(n_i x loss_i) overflowed to Infinity before.
    const loud = await chaos.join({ name: 'loud', tamper: { commit: (c) => ({ ...c, loss: 1e308 }) } });
    await waitForWorkers(t.coordinator, 2);
    const session = await t.coordinator.startRun(
      validateRunConfig(syntheticConfig({ total_updates: 4, eval_every: 100, checkpoint_every: 100, min_workers: 2, global_batch_size: 16, slice_balance: 'equal', optimizer: { name: 'sgd', lr: 0.01 } })),
    );
    expect((await session.done).status).toBe('finished');
    const points = await t.coordinator.store.getMetricHistory(session.runId, 'train_loss');
    expect(points.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    const loudCommits = loud.commits.filter((c) => c.ack.ok);
    const honestCommits = honest.commits.filter((c) => c.ack.ok);
    expect(loudCommits.length).toBeGreaterThan(0);
    expect(honestCommits.length).toBeGreaterThan(0);
    for (const p of points) {
      expect(Number.isFinite(p.value)).toBe(true);
      // Each update mixes both workers' slices (8 samples each of 16): half of 1e308, plus a small honest loss.
      expect(p.value).toBeGreaterThan(0.49e308);
      expect(p.value).toBeLessThan(0.51e308);
    }
    // The REST API serves the same finite values (JSON has no Infinity).
    const res = await fetch(`${t.coordinator.url}/api/v1/runs/${session.runId}/metrics/train_loss`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('null');
    expect(text).toContain('e+307');
  });
});
