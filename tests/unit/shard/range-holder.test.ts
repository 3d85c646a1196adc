import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { RangeHolder } from '../../../core/shard/range-holder.ts';
import { ShardLoadSchema, ShardStepSchema, bytesOf, type ShardLoad } from '../../../core/shard/shard-protocol.ts';
import { createFlatOptimizer } from '../../../core/optim/flat-optimizer.ts';
import { parseOptimizerSpec } from '../../../core/optim/optimizer-spec.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';

/** Deterministic uniform values in [-scale, scale). */
function randomVector(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!));
    if (d > worst || Number.isNaN(d)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Expects `fn` to throw a CrowdtrainError with `code` and a message matching `message`. */
function expectError(fn: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(CrowdtrainError);
  expect((thrown as CrowdtrainError).code).toBe(code);
  expect((thrown as CrowdtrainError).message).toMatch(message);
}

const N = 1000;
const RUN = 'run-1';
/** Uneven ranges [0,337) [337,700) [700,1000), as a shard plan may cut them. */
const BOUNDS = [0, 337, 700, N];
/** Per-update learning rates (a schedule) and clip scales (1 = not clipped). */
const LRS = [0.1, 0.05, 0.02, 0.2, 0.01, 0.07];
const SCALES = [1, 0.5, 1, 0.25, 0.8, 1];
const initial = () => randomVector(N, 1);
const gradient = (s: number) => randomVector(N, 100 + s, 2);

function loadMsg(optimizer: Record<string, unknown>, index: number, params: Float32Array, extra: Partial<ShardLoad> = {}) {
  const start = BOUNDS[index]!;
  const end = BOUNDS[index + 1]!;
  return ShardLoadSchema.parse({ runId: RUN, index, start, end, optimizer, updates: 0, params: bytesOf(params.slice(start, end)), ...extra });
}

function stepMsg(index: number, step: number, grad: Float32Array, lr = LRS[step]!, scale = SCALES[step]!) {
  return ShardStepSchema.parse({ runId: RUN, index, step, lr, scale, grad: bytesOf(grad) });
}

function holdersFor(optimizer: Record<string, unknown>, params: Float32Array): RangeHolder[] {
  return BOUNDS.slice(0, -1).map((_, i) => new RangeHolder(loadMsg(optimizer, i, params)));
}

/** Steps every holder of the whole vector with update `s` (gradient slices) and returns the concatenated params. */
function stepAll(holders: RangeHolder[], s: number): Float32Array {
  const g = gradient(s);
  const out = new Float32Array(N);
  holders.forEach((h, i) => out.set(h.step(stepMsg(i, s, g.slice(BOUNDS[i], BOUNDS[i + 1]))), BOUNDS[i]));
  return out;
}

type TfOpt = tf.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };

/** tfjs's own optimizer on the whole vector, gradients multiplied by the clip scale with tfjs ops. */
function runTfjs(make: (lr: number) => tf.Optimizer, setLr: (o: tf.Optimizer, lr: number) => void, scales = SCALES): Float32Array {
  const variable = tf.variable(tf.tensor1d(initial()), true, 'shard_w');
  const opt = make(LRS[0]!);
  for (let s = 0; s < LRS.length; s++) {
    setLr(opt, LRS[s]!);
    const g = tf.tidy(() => tf.mul(tf.tensor1d(gradient(s)), scales[s]!));
    opt.applyGradients({ shard_w: g });
    g.dispose();
  }
  const out = (variable.dataSync() as Float32Array).slice();
  variable.dispose();
  opt.dispose();
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('RangeHolder equals a whole-vector optimizer restricted to the range', () => {
  const cases = [
    {
      label: 'sgd momentum',
      optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 },
      make: (lr: number) => tf.train.momentum(lr, 0.9, false),
      setLr: (o: tf.Optimizer, lr: number) => (o as TfOpt).setLearningRate?.(lr),
    },
    {
      label: 'nesterov',
      optimizer: { name: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true },
      make: (lr: number) => tf.train.momentum(lr, 0.8, true),
      setLr: (o: tf.Optimizer, lr: number) => (o as TfOpt).setLearningRate?.(lr),
    },
    {
      label: 'adam',
      optimizer: { name: 'adam', lr: 0.1, beta1: 0.8, beta2: 0.95, epsilon: 1e-6 },
      make: (lr: number) => tf.train.adam(lr, 0.8, 0.95, 1e-6),
      setLr: (o: tf.Optimizer, lr: number) => {
        (o as TfOpt).learningRate = lr;
      },
    },
  ];
  for (const c of cases) {
    it(`${c.label}: three ranges over ${LRS.length} clipped steps match tfjs's own optimizer within 1e-6`, () => {
      const expected = runTfjs(c.make, c.setLr);
      // The run must move the parameters, or the comparison proves nothing.
      expect(maxRelDiff(expected, initial())).toBeGreaterThan(1e-3);
      // The clip scales matter: unscaled gradients end measurably elsewhere, so an ignored scale fails.
      expect(maxRelDiff(runTfjs(c.make, c.setLr, SCALES.map(() => 1)), expected)).toBeGreaterThan(1e-4);
      const holders = holdersFor(c.optimizer, initial());
      let got: Float32Array = new Float32Array(N);
      for (let s = 0; s < LRS.length; s++) got = stepAll(holders, s);
      expect(maxRelDiff(got, expected)).toBeLessThanOrEqual(1e-6);
      holders.forEach((h, i) => {
        expect(h.updates).toBe(LRS.length);
        expect(Array.from(h.values)).toEqual(Array.from(got.slice(BOUNDS[i], BOUNDS[i + 1])));
      });
    });
  }

  it('the clip scale changes one step', () => {
    const a = new RangeHolder(loadMsg({ name: 'sgd', lr: 0.1 }, 0, initial()));
    const b = new RangeHolder(loadMsg({ name: 'sgd', lr: 0.1 }, 0, initial()));
    const g = gradient(0).slice(0, BOUNDS[1]);
    const pa = a.step(stepMsg(0, 0, g, 0.1, 1));
    const pb = b.step(stepMsg(0, 0, g, 0.1, 0.5));
    expect(maxRelDiff(pa, pb)).toBeGreaterThan(1e-3);
  });

  it('adamw: three ranges match the project optimizer on the whole vector, sliced (tfjs has no AdamW)', () => {
    const optimizer = { name: 'adamw', lr: 0.01, weight_decay: 0.1 };
    const whole = createFlatOptimizer(parseOptimizerSpec(optimizer), N);
    const expected = initial();
    const holders = holdersFor(optimizer, initial());
    let got: Float32Array = new Float32Array(N);
    for (let s = 0; s < LRS.length; s++) {
      whole.step(expected, gradient(s).map((v) => v * SCALES[s]!), LRS[s]!);
      got = stepAll(holders, s);
    }
    expect(maxRelDiff(expected, initial())).toBeGreaterThan(1e-3);
    expect(maxRelDiff(got, expected)).toBeLessThanOrEqual(1e-6);
  });

  it('scales into its own buffer: the message gradient is not changed', () => {
    const holder = new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 1, initial()));
    const g = gradient(0).slice(BOUNDS[1], BOUNDS[2]);
    const msg = stepMsg(1, 0, g, 0.1, 0.25);
    const before = Array.from(new Float32Array(msg.grad.slice().buffer));
    holder.step(msg);
    expect(Array.from(new Float32Array(msg.grad.slice().buffer))).toEqual(before);
  });

  it('reads Node Buffers at odd offsets in a shared pool (as socket.io delivers them)', () => {
    const atOddOffset = (values: Float32Array): Uint8Array => {
      const pool = new Uint8Array(values.byteLength + 7);
      pool.set(bytesOf(values), 3);
      return Buffer.from(pool.buffer, 3, values.byteLength);
    };
    const params = initial().slice(0, BOUNDS[1]);
    const grad = gradient(0).slice(0, BOUNDS[1]);
    const viaBuffer = new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial(), { params: atOddOffset(params) }));
    const plain = new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial()));
    expect(Array.from(viaBuffer.values)).toEqual(Array.from(params));
    const got = viaBuffer.step(ShardStepSchema.parse({ runId: RUN, index: 0, step: 0, lr: 0.1, scale: 0.5, grad: atOddOffset(grad) }));
    expect(Array.from(got)).toEqual(Array.from(plain.step(stepMsg(0, 0, grad, 0.1, 0.5))));
  });

  it('copies the loaded params and returns copies: neither the message bytes nor a returned vector alias the range', () => {
    const params = initial();
    const msg = loadMsg({ name: 'sgd', lr: 0.1 }, 0, params);
    const holder = new RangeHolder(msg);
    msg.params.fill(0);
    expect(holder.values[0]).toBe(params[0]);
    const returned = holder.step(stepMsg(0, 0, gradient(0).slice(0, BOUNDS[1])));
    const first = returned[0];
    holder.step(stepMsg(0, 1, gradient(1).slice(0, BOUNDS[1])));
    expect(returned[0]).toBe(first);
    expect(holder.values[0]).not.toBe(first);
  });
});

describe('RangeHolder state and load', () => {
  for (const optimizer of [
    { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true },
    { name: 'adam', lr: 0.1 },
    { name: 'adamw', lr: 0.01 },
  ]) {
    it(`${optimizer.name}: a range reloaded from state() continues bit-identically`, () => {
      const a = new RangeHolder(loadMsg(optimizer, 2, initial()));
      const g = (s: number) => gradient(s).slice(BOUNDS[2], BOUNDS[3]);
      for (let s = 0; s < 3; s++) a.step(stepMsg(2, s, g(s)));
      const saved = a.state();
      expect(saved.name).toBe(optimizer.name);
      expect(saved.updates).toBe(3);
      const slots = Object.fromEntries(Object.entries(saved.slots).map(([k, v]) => [k, bytesOf(v)]));
      const b = new RangeHolder(
        ShardLoadSchema.parse({ runId: RUN, index: 2, start: BOUNDS[2], end: BOUNDS[3], optimizer, updates: saved.updates, params: bytesOf(a.values.slice()), slots }),
      );
      // state() is a copy: later steps of `a` do not change what was saved.
      const savedCopy = Object.fromEntries(Object.entries(saved.slots).map(([k, v]) => [k, Array.from(v)]));
      expect(b.updates).toBe(3);
      for (let s = 3; s < 6; s++) {
        const pa = a.step(stepMsg(2, s, g(s)));
        const pb = b.step(stepMsg(2, s, g(s)));
        expect(Array.from(pb)).toEqual(Array.from(pa));
      }
      expect(Object.fromEntries(Object.entries(saved.slots).map(([k, v]) => [k, Array.from(v)]))).toEqual(savedCopy);
      expect(b.state().updates).toBe(6);
      expect(b.optimizerBytes).toBe(Object.keys(saved.slots).length * (BOUNDS[3]! - BOUNDS[2]!) * 4);
    });
  }

  it('a fresh adam range differs from a resumed one (the round trip above can fail)', () => {
    const a = new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial()));
    const g = (s: number) => gradient(s).slice(0, BOUNDS[1]);
    for (let s = 0; s < 3; s++) a.step(stepMsg(0, s, g(s)));
    const fresh = new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial(), { updates: 3, params: bytesOf(a.values.slice()) }));
    expect(maxRelDiff(fresh.step(stepMsg(0, 3, g(3))), a.step(stepMsg(0, 3, g(3))))).toBeGreaterThan(1e-4);
  });

  it('without slots, starts a fresh optimizer at the given update count (plain sgd has no slots)', () => {
    const holder = new RangeHolder(loadMsg({ name: 'sgd', lr: 0.1 }, 0, initial(), { updates: 7 }));
    expect(holder.updates).toBe(7);
    expect(holder.state()).toEqual({ name: 'sgd', updates: 7, slots: {} });
    expect(holder.optimizerBytes).toBe(0);
    holder.step(stepMsg(0, 7, gradient(0).slice(0, BOUNDS[1]), 0.1, 1));
    expect(holder.updates).toBe(8);
  });

  it('refuses slots that do not fit the optimizer, naming the mismatch', () => {
    const size = BOUNDS[1]!;
    const zeros = (n: number) => bytesOf(new Float32Array(n));
    expectError(
      () => new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial(), { updates: 2, slots: { m: zeros(size) } })),
      'CHECKPOINT_INVALID',
      /range 0 of run run-1: .*slots \[m\], expected \[m, v\]/,
    );
    expectError(
      () => new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial(), { updates: 2, slots: { m: zeros(size), v: zeros(size - 1) } })),
      'CHECKPOINT_INVALID',
      new RegExp(`slot 'v' has ${size - 1} values, expected ${size}`),
    );
    expectError(
      () => new RangeHolder(loadMsg({ name: 'sgd', lr: 0.1, momentum: 0.9 }, 0, initial(), { slots: { m: zeros(size), v: zeros(size) } })),
      'CHECKPOINT_INVALID',
      /slots \[m, v\], expected \[momentum\]/,
    );
  });

  it('refuses a bad optimizer spec and params of the wrong length or not finite', () => {
    expectError(() => new RangeHolder(loadMsg({ name: 'rmsprop', lr: 0.1 }, 0, initial())), 'INVALID_CONFIG', /range 0 of run run-1: invalid optimizer spec/);
    const params = initial().slice(0, 10);
    expectError(
      () => new RangeHolder(ShardLoadSchema.parse({ runId: RUN, index: 0, start: 0, end: 20, optimizer: { name: 'sgd', lr: 0.1 }, updates: 0, params: bytesOf(params) })),
      'SHAPE_MISMATCH',
      /\[0, 20\) has 20 values, but 10 params were sent/,
    );
    params[4] = NaN;
    expectError(
      () => new RangeHolder(ShardLoadSchema.parse({ runId: RUN, index: 0, start: 0, end: 10, optimizer: { name: 'sgd', lr: 0.1 }, updates: 0, params: bytesOf(params) })),
      'NON_FINITE',
      /param 4 is NaN/,
    );
  });
});

describe('RangeHolder refuses bad steps and stays unchanged', () => {
  const make = () => new RangeHolder(loadMsg({ name: 'adam', lr: 0.1 }, 0, initial()));
  const g = (s: number) => gradient(s).slice(0, BOUNDS[1]);

  it('STALE_UPDATE on a step out of order, naming the range, its update and the asked step', () => {
    const holder = make();
    expectError(() => holder.step(stepMsg(0, 1, g(1))), 'STALE_UPDATE', /^range 0 of run run-1 is at update 0, step 1 asked$/);
    holder.step(stepMsg(0, 0, g(0)));
    const after = Array.from(holder.values);
    // A replayed step (already applied) is refused too.
    expectError(() => holder.step(stepMsg(0, 0, g(0))), 'STALE_UPDATE', /is at update 1, step 0 asked/);
    expect(Array.from(holder.values)).toEqual(after);
    expect(holder.updates).toBe(1);
  });

  it('SHAPE_MISMATCH names both lengths', () => {
    const holder = make();
    expectError(() => holder.step(stepMsg(0, 0, g(0).slice(1))), 'SHAPE_MISMATCH', new RegExp(`has ${BOUNDS[1]! - 1} values, the range has ${BOUNDS[1]}`));
    expect(holder.updates).toBe(0);
  });

  it('NON_FINITE names the value, also when the scale overflows it', () => {
    const holder = make();
    const before = Array.from(holder.values);
    const bad = g(0);
    bad[12] = NaN;
    expectError(() => holder.step(stepMsg(0, 0, bad, 0.1, 1)), 'NON_FINITE', /range 0 of run run-1: value 12 is NaN/);
    bad[12] = Infinity;
    expectError(() => holder.step(stepMsg(0, 0, bad, 0.1, 0.5)), 'NON_FINITE', /value 12 is Infinity/);
    const big = g(0);
    big[5] = 3e38;
    expectError(() => holder.step(stepMsg(0, 0, big, 0.1, 10)), 'NON_FINITE', /value 5 is Infinity after scaling by 10/);
    expect(Array.from(holder.values)).toEqual(before);
    expect(holder.updates).toBe(0);
  });

  it('refuses a step addressed to another range', () => {
    const holder = make();
    expectError(() => holder.step(stepMsg(1, 0, g(0))), 'NOT_ASSIGNED', /step for range 1 of run run-1 sent to range 0 of run run-1/);
  });
});
