import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import { DilocoOptionsSchema } from '../../../../core/run/diloco/diloco-options.ts';
import { createDilocoUpdateRule } from '../../../../core/run/diloco/diloco-update-rule.ts';
import type { WorkerResult } from '../../../../core/run/training-mode.ts';

const N = 300;

function randomVector(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

function result(workerId: string, values: Float32Array, sampleCount: number): WorkerResult {
  return { workerId, values, sampleCount, loss: 1, accuracy: 0.5 };
}

/** The rounds' results: 3 workers with unequal sample counts. */
function roundResults(round: number): WorkerResult[] {
  return [result('a', randomVector(N, 10 * round + 1, 0.3), 40), result('b', randomVector(N, 10 * round + 2, 0.3), 25), result('c', randomVector(N, 10 * round + 3, 0.3), 7)];
}

/** Float64 hand formula: weighted mean of deltas, then PyTorch's SGD (Nesterov or heavy ball) on it. */
function float64Outer(init: Float32Array, rounds: number, lr: number, momentum: number, nesterov: boolean): Float64Array {
  const p = Float64Array.from(init);
  const buf = new Float64Array(N);
  for (let r = 0; r < rounds; r++) {
    const results = roundResults(r);
    const total = results.reduce((a, x) => a + x.sampleCount, 0);
    for (let i = 0; i < N; i++) {
      let g = 0;
      for (const x of results) g += (x.sampleCount / total) * x.values[i]!;
      buf[i] = momentum * buf[i]! + g;
      const step = momentum === 0 ? g : nesterov ? g + momentum * buf[i]! : buf[i]!;
      p[i] = p[i]! - lr * step;
    }
  }
  return p;
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('the DiLoCo outer update rule', () => {
  it("defaults to the paper's outer optimizer: Nesterov SGD, lr 0.7, momentum 0.9, H = 50", () => {
    expect(DilocoOptionsSchema.parse({})).toEqual({ inner_steps: 50, outer_lr: 0.7, outer_momentum: 0.9, nesterov: true });
  });

  it('refuses unknown and out-of-range options, naming them', () => {
    expect(DilocoOptionsSchema.safeParse({ inner_step: 5 }).error?.message).toMatch(/inner_step/);
    expect(DilocoOptionsSchema.safeParse({ inner_steps: 0 }).success).toBe(false);
    expect(DilocoOptionsSchema.safeParse({ outer_momentum: 1 }).success).toBe(false);
    expect(DilocoOptionsSchema.safeParse({ inner_optimizer: { name: 'lion', lr: 1 } }).success).toBe(false);
  });

  for (const [label, momentum, nesterov] of [
    ['Nesterov momentum 0.9', 0.9, true],
    ['heavy-ball momentum 0.5', 0.5, false],
    ['plain SGD', 0, false],
  ] as const) {
    it(`averages the deltas by sample count and applies ${label}, equal to a float64 formula over 6 rounds`, () => {
      const rule = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: momentum, nesterov }, N);
      const init = randomVector(N, 99);
      const params = init.slice();
      for (let r = 0; r < 6; r++) {
        const outcome = rule.apply(params, roundResults(r), r);
        expect(outcome.lr).toBe(0.7);
        expect(outcome.metrics.outer_grad_norm).toBeGreaterThan(0);
      }
      expect(maxAbsDiff(params, float64Outer(init, 6, 0.7, momentum, nesterov))).toBeLessThan(2e-6);
    });
  }

  it('keeps the outer momentum in its state: a rule loaded from round 3 continues exactly', () => {
    const init = randomVector(N, 5);
    const a = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: 0.9, nesterov: true }, N);
    const pa = init.slice();
    for (let r = 0; r < 6; r++) a.apply(pa, roundResults(r), r);

    const b = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: 0.9, nesterov: true }, N);
    const pb = init.slice();
    for (let r = 0; r < 3; r++) b.apply(pb, roundResults(r), r);
    const saved = b.state();
    expect(saved).toMatchObject({ name: 'sgd', step: 3 });
    expect(Object.keys(saved.slots)).toEqual(['momentum']);
    const atRound3 = pb.slice();
    const c = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: 0.9, nesterov: true }, N);
    c.load(saved);
    for (let r = 3; r < 6; r++) c.apply(pb, roundResults(r), r);
    expect(Array.from(pb)).toEqual(Array.from(pa));

    // Without the loaded momentum the same rounds give another result: the state matters.
    const forgetful = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: 0.9, nesterov: true }, N);
    for (let r = 3; r < 6; r++) forgetful.apply(atRound3, roundResults(r), r);
    expect(maxAbsDiff(atRound3, Float64Array.from(pa))).toBeGreaterThan(1e-3);
  });

  it('refuses a state of another optimizer or size', () => {
    const rule = createDilocoUpdateRule({ outer_lr: 0.7, outer_momentum: 0.9, nesterov: true }, N);
    expect(() => rule.load({ name: 'adam', step: 1, slots: { m: new Float32Array(N), v: new Float32Array(N) } })).toThrow(/'adam', expected 'sgd'/);
    expect(() => rule.load({ name: 'sgd', step: 1, slots: { momentum: new Float32Array(N - 1) } })).toThrow(/has 299 values, expected 300/);
  });
});
