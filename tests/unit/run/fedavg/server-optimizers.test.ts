import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import { FedavgOptionsSchema, ServerOptimizerSpecSchema, type ServerOptimizerSpec } from '../../../../core/run/fedavg/fedavg-options.ts';
import { createFedavgUpdateRule } from '../../../../core/run/fedavg/fedavg-update-rule.ts';
import { SERVER_OPTIMIZERS } from '../../../../core/run/fedavg/server-optimizers.ts';
import type { WorkerResult } from '../../../../core/run/training-mode.ts';

const N = 256;
const ROUNDS = 6;

function randomVector(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** Three clients with unequal sample counts; their deltas are start − end. */
function roundResults(round: number): WorkerResult[] {
  return [
    { workerId: 'a', values: randomVector(N, 7 * round + 1, 0.2), sampleCount: 64, loss: 1, accuracy: 0.5 },
    { workerId: 'b', values: randomVector(N, 7 * round + 2, 0.2), sampleCount: 32, loss: 1, accuracy: 0.5 },
    { workerId: 'c', values: randomVector(N, 7 * round + 3, 0.2), sampleCount: 8, loss: 1, accuracy: 0.5 },
  ];
}

/**
 * Flower's strategies in float64, written from their aggregate_fit: the FedAvg aggregate x̄ = the
 * sample-weighted mean of the clients' weights w − d_k; delta_t = x̄ − w; then FedAvgM's
 * `v = momentum·v + (w − x̄); w −= lr·v` or FedOpt's `m = β1·m + (1−β1)·delta_t`,
 * v (Adam: β2·v + (1−β2)·delta_t²; Yogi: v − (1−β2)·delta_t²·sign(v − delta_t²); Adagrad: v + delta_t²),
 * `w += eta·m / (√v + tau)`.
 */
function flowerFloat64(spec: ServerOptimizerSpec, init: Float32Array): Float64Array {
  const w = Float64Array.from(init);
  const m = new Float64Array(N);
  const v = new Float64Array(N);
  for (let r = 0; r < ROUNDS; r++) {
    const results = roundResults(r);
    const total = results.reduce((a, x) => a + x.sampleCount, 0);
    for (let i = 0; i < N; i++) {
      let aggregate = 0;
      for (const x of results) aggregate += (x.sampleCount / total) * (w[i]! - x.values[i]!);
      const deltaT = aggregate - w[i]!;
      switch (spec.name) {
        case 'fedavg':
          w[i] = w[i]! - spec.lr * (w[i]! - aggregate);
          break;
        case 'fedavgm':
          m[i] = spec.momentum * m[i]! + (w[i]! - aggregate);
          w[i] = w[i]! - spec.lr * m[i]!;
          break;
        default: {
          const beta1 = spec.name === 'fedadagrad' ? 0 : spec.beta1;
          m[i] = beta1 * m[i]! + (1 - beta1) * deltaT;
          const d2 = deltaT * deltaT;
          if (spec.name === 'fedadam') v[i] = spec.beta2 * v[i]! + (1 - spec.beta2) * d2;
          else if (spec.name === 'fedyogi') v[i] = v[i]! - (1 - spec.beta2) * d2 * Math.sign(v[i]! - d2);
          else v[i] = v[i]! + d2;
          w[i] = w[i]! + (spec.lr * m[i]!) / (Math.sqrt(v[i]!) + spec.tau);
        }
      }
    }
  }
  return w;
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const SPECS: ServerOptimizerSpec[] = [
  ServerOptimizerSpecSchema.parse({ name: 'fedavg' }),
  ServerOptimizerSpecSchema.parse({ name: 'fedavg', lr: 0.5 }),
  ServerOptimizerSpecSchema.parse({ name: 'fedavgm', momentum: 0.7 }),
  ServerOptimizerSpecSchema.parse({ name: 'fedadam', lr: 0.05 }),
  ServerOptimizerSpecSchema.parse({ name: 'fedyogi' }),
  ServerOptimizerSpecSchema.parse({ name: 'fedadagrad', lr: 0.05 }),
];

describe('the FedAvg-family server optimizers', () => {
  it('has one registry entry per server optimizer, with Flower defaults', () => {
    expect(Object.keys(SERVER_OPTIMIZERS).sort()).toEqual(['fedadagrad', 'fedadam', 'fedavg', 'fedavgm', 'fedyogi']);
    expect(ServerOptimizerSpecSchema.parse({ name: 'fedadam' })).toEqual({ name: 'fedadam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 });
    expect(ServerOptimizerSpecSchema.parse({ name: 'fedyogi' })).toEqual({ name: 'fedyogi', lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    expect(ServerOptimizerSpecSchema.parse({ name: 'fedadagrad' })).toEqual({ name: 'fedadagrad', lr: 0.1, tau: 1e-9 });
    expect(ServerOptimizerSpecSchema.safeParse({ name: 'fedadagrad', beta1: 0.9 }).error?.message).toMatch(/beta1/);
    expect(ServerOptimizerSpecSchema.safeParse({ name: 'krum' }).success).toBe(false);
  });

  for (const spec of SPECS) {
    it(`${spec.name} (lr ${spec.lr}) equals the float64 formula of Flower's aggregate_fit over ${ROUNDS} rounds, and resumes from its state exactly`, () => {
      const init = randomVector(N, 42);
      const params = init.slice();
      const rule = createFedavgUpdateRule(spec, N);
      for (let r = 0; r < ROUNDS; r++) {
        const outcome = rule.apply(params, roundResults(r), r);
        expect(outcome.lr).toBe(spec.lr);
        expect(outcome.metrics.clients_reported).toBe(3);
      }
      expect(maxAbsDiff(params, flowerFloat64(spec, init))).toBeLessThan(2e-5);

      const half = init.slice();
      const first = createFedavgUpdateRule(spec, N);
      for (let r = 0; r < 3; r++) first.apply(half, roundResults(r), r);
      const resumed = createFedavgUpdateRule(spec, N);
      resumed.load(first.state());
      for (let r = 3; r < ROUNDS; r++) resumed.apply(half, roundResults(r), r);
      expect(Array.from(half)).toEqual(Array.from(params));
    });
  }

  it('plain FedAvg with lr 1 sets the parameters to the sample-weighted mean of the clients’ weights', () => {
    const init = randomVector(N, 3);
    const params = init.slice();
    createFedavgUpdateRule({ name: 'fedavg', lr: 1 }, N).apply(params, roundResults(0), 0);
    const results = roundResults(0);
    const expected = Float64Array.from(init, (w, i) => (64 * (w - results[0]!.values[i]!) + 32 * (w - results[1]!.values[i]!) + 8 * (w - results[2]!.values[i]!)) / 104);
    expect(maxAbsDiff(params, expected)).toBeLessThan(1e-6);
  });

  it('an adaptive optimizer refuses a state of another kind, naming both', () => {
    const rule = createFedavgUpdateRule(ServerOptimizerSpecSchema.parse({ name: 'fedyogi' }), N);
    const adam = createFedavgUpdateRule(ServerOptimizerSpecSchema.parse({ name: 'fedadam' }), N);
    expect(() => rule.load(adam.state())).toThrow(/'fedadam', expected 'fedyogi'/);
  });
});

describe('the fedavg options section', () => {
  it('fills defaults and refuses unknown keys and contradictions, naming them', () => {
    expect(FedavgOptionsSchema.parse({})).toMatchObject({ fraction: 1, min_clients: 1, local_steps: 5, local_epochs: 1, proximal_mu: 0, server_optimizer: { name: 'fedavg', lr: 1 } });
    expect(FedavgOptionsSchema.safeParse({ fractoin: 0.5 }).error?.message).toMatch(/fractoin/);
    expect(FedavgOptionsSchema.safeParse({ fraction: 0 }).success).toBe(false);
    expect(FedavgOptionsSchema.safeParse({ clients: 2, min_clients: 3 }).error?.message).toMatch(/clients \(2\) is below min_clients \(3\)/);
    expect(FedavgOptionsSchema.safeParse({ client_optimizer: { name: 'sgd' } }).error?.message).toMatch(/lr/);
  });
});
