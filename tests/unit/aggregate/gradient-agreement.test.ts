import { describe, expect, it } from 'vitest';
import { cosineSimilarity, GradientAgreementTracker } from '../../../core/aggregate/gradient-agreement.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';

function noisy(base: Float32Array, rng: SeededRandom, noise: number): Float32Array {
  return base.map((v) => v + noise * rng.normal());
}

describe('cosineSimilarity', () => {
  it('is 1 for parallel, -1 for opposite, 0 for orthogonal or zero vectors', () => {
    const a = new Float32Array([1, 2, 3]);
    expect(cosineSimilarity(a, a.map((v) => 2 * v))).toBeCloseTo(1, 12);
    expect(cosineSimilarity(a, a.map((v) => -v))).toBeCloseTo(-1, 12);
    expect(cosineSimilarity(new Float32Array([1, 0]), new Float32Array([0, 1]))).toBe(0);
    expect(cosineSimilarity(a, new Float32Array(3))).toBe(0);
  });
});

describe('GradientAgreementTracker', () => {
  it('flags a worker that sends zeros (a broken read-back) after minObservations, and not the honest ones', () => {
    const rng = new SeededRandom(3);
    const tracker = new GradientAgreementTracker();
    const truth = new Float32Array(500).map(() => rng.normal());
    let flaggedAt = -1;
    for (let step = 0; step < 10; step++) {
      const contributions = [
        { workerId: 'a', values: noisy(truth, rng, 1.0) },
        { workerId: 'b', values: noisy(truth, rng, 1.0) },
        { workerId: 'broken', values: new Float32Array(500) },
      ];
      const res = tracker.observe(contributions.map((c) => ({ ...c, weight: 32 })));
      const broken = res.find((r) => r.workerId === 'broken');
      if (broken?.changed && broken.flagged) flaggedAt = step;
      for (const r of res.filter((r) => r.workerId !== 'broken')) expect(r.flagged).toBe(false);
    }
    expect(flaggedAt).toBe(4);
    expect(tracker.get('a')?.agreement).toBeGreaterThan(0.5);
  });

  it('flags a worker with unrelated gradients; observes nothing with fewer than three contributions', () => {
    const rng = new SeededRandom(5);
    const tracker = new GradientAgreementTracker({ minObservations: 3 });
    const truth = new Float32Array(2000).map(() => rng.normal());
    for (let step = 0; step < 6; step++) {
      const contributions = [
        { workerId: 'a', values: noisy(truth, rng, 0.5) },
        { workerId: 'b', values: noisy(truth, rng, 0.5) },
        { workerId: 'c', values: noisy(truth, rng, 0.5) },
        { workerId: 'random', values: new Float32Array(2000).map(() => rng.normal()) },
      ];
      tracker.observe(contributions.map((c) => ({ ...c, weight: 16 })));
    }
    expect(tracker.get('random')?.flagged).toBe(true);
    expect(tracker.get('a')?.flagged).toBe(false);
    // Two workers: the odd one out cannot be told apart.
    expect(tracker.observe([{ workerId: 'x', values: truth, weight: 1 }, { workerId: 'y', values: new Float32Array(2000), weight: 1 }])).toEqual([]);
  });

  it('flags nobody when every gradient is mostly noise (a converged fleet), though all agreements are low', () => {
    const rng = new SeededRandom(7);
    const tracker = new GradientAgreementTracker();
    const truth = new Float32Array(1000).map(() => 0.02 * rng.normal());
    for (let step = 0; step < 30; step++) {
      const res = tracker.observe(['a', 'b', 'c', 'd'].map((workerId) => ({ workerId, values: noisy(truth, rng, 1.0), weight: 32 })));
      for (const r of res) expect(r.flagged, `${r.workerId} at step ${step}`).toBe(false);
    }
    expect(tracker.get('a')!.agreement).toBeLessThan(0.1);
  });

  it('keeps a flagged worker flagged when the fleet later converges, and clears it when its own agreement recovers', () => {
    const rng = new SeededRandom(11);
    const tracker = new GradientAgreementTracker({ minObservations: 3 });
    const truth = new Float32Array(1000).map(() => rng.normal());
    const round = (signal: number, brokenValues: () => Float32Array) =>
      tracker.observe([
        ...['a', 'b', 'c'].map((workerId) => ({ workerId, values: noisy(truth.map((v) => signal * v), rng, 1.0), weight: 32 })),
        { workerId: 'broken', values: brokenValues(), weight: 32 },
      ]);
    for (let step = 0; step < 6; step++) round(1, () => new Float32Array(1000));
    expect(tracker.get('broken')?.flagged).toBe(true);
    // Converged: the honest gradients are noise now, the others' median agreement falls below the broken one's + gap.
    for (let step = 0; step < 20; step++) round(0.01, () => new Float32Array(1000));
    expect(tracker.get('a')!.agreement).toBeLessThan(0.1);
    expect(tracker.get('broken')?.flagged).toBe(true);
    expect(tracker.get('a')?.flagged).toBe(false);
    // Fixed: it sends real gradients of a fleet with signal again.
    let restored = false;
    for (let step = 0; step < 20; step++) {
      const r = round(1, () => noisy(truth, rng, 1.0)).find((x) => x.workerId === 'broken')!;
      if (r.changed && !r.flagged) restored = true;
    }
    expect(restored).toBe(true);
  });
});

