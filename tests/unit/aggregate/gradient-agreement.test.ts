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
});
