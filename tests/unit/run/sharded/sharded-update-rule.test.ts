import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../../../core/config/run-config.ts';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import { ShardedOptionsSchema } from '../../../../core/run/sharded/sharded-options.ts';
import { createShardedUpdateRule } from '../../../../core/run/sharded/sharded-update-rule.ts';
import type { WorkerResult } from '../../../../core/run/training-mode.ts';
import { RangeHolder } from '../../../../core/shard/range-holder.ts';
import type { ShardOwners } from '../../../../core/shard/shard-owners.ts';
import { ShardLoadSchema, ShardStepSchema } from '../../../../core/shard/shard-protocol.ts';

/**
 * Owners as RangeHolders in this process (the owner side's own class), reached through the
 * ShardOwners contract without sockets; an owner can be made to leave, or to answer wrongly.
 */
class InProcessOwners implements ShardOwners {
  readonly holders = new Map<string, Map<string, RangeHolder>>();
  readonly wrong = new Set<string>();
  constructor(ids: string[]) {
    for (const id of ids) this.holders.set(id, new Map());
  }
  live() {
    return [...this.holders.keys()].sort();
  }
  nameOf(id: string) {
    return this.holders.has(id) ? `name-${id}` : null;
  }
  leave(id: string) {
    this.holders.delete(id);
  }
  waitFor(count: number) {
    return this.holders.size >= count ? Promise.resolve(this.live()) : Promise.reject(new CrowdtrainError('NO_ACTIVE_RUN', `${this.holders.size} owners`));
  }
  private of(id: string) {
    const h = this.holders.get(id);
    if (!h) throw new CrowdtrainError('INTERNAL', `owner ${id} disconnected`);
    return h;
  }
  load(id: string, msg: Parameters<ShardOwners['load']>[1]) {
    const m = ShardLoadSchema.parse(msg);
    this.of(id).set(`${m.runId}#${m.index}`, new RangeHolder(m));
    return Promise.resolve({ values: m.end - m.start });
  }
  step(id: string, msg: Parameters<ShardOwners['step']>[1]) {
    try {
      const m = ShardStepSchema.parse(msg);
      const holder = this.of(id).get(`${m.runId}#${m.index}`)!;
      const params = holder.step(m);
      if (this.wrong.has(id)) params[0] = Number.NaN;
      return Promise.resolve({ updates: holder.updates, params: new Uint8Array(params.buffer) });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
  state(id: string, msg: Parameters<ShardOwners['state']>[1]) {
    const s = this.of(id).get(`${msg.runId}#${msg.index}`)!.state();
    return Promise.resolve({ name: s.name, updates: s.updates, slots: Object.fromEntries(Object.entries(s.slots).map(([k, v]) => [k, new Uint8Array(v.buffer.slice(0))])) });
  }
  drop(id: string, msg: { runId: string; index?: number }) {
    const h = this.holders.get(id);
    if (!h) return;
    for (const key of [...h.keys()]) if (key.startsWith(`${msg.runId}#`) && (msg.index === undefined || key === `${msg.runId}#${msg.index}`)) h.delete(key);
  }
  optimizerBytes(id: string) {
    return [...this.of(id).values()].reduce((a, h) => a + h.optimizerBytes, 0);
  }
}

const P = 1000;
const config = validateRunConfig({
  model: { type: 'mlp' },
  dataset: { name: 'synthetic' },
  optimizer: { name: 'adam', lr: 0.01 },
  max_grad_norm: 1,
  batch_size: 4,
  total_updates: 6,
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Two workers' results per update, deterministic. */
function results(step: number): WorkerResult[] {
  const r = rng(step + 1);
  return [3, 5].map((n, k) => ({ workerId: `w${k}`, sampleCount: n, loss: 1, accuracy: 0.5, values: Float32Array.from({ length: P }, () => r() * 2) }));
}

/** tfjs's own Adam on the full vector, with the weighted mean and clipping written here in float64. */
function tfjsReference(init: Float32Array, steps: number): Float32Array {
  void tf.setBackend('cpu');
  const v = tf.variable(tf.tensor1d(init));
  const opt = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
  for (let s = 0; s < steps; s++) {
    const rs = results(s);
    const total = rs.reduce((a, x) => a + x.sampleCount, 0);
    const mean = new Float64Array(P);
    for (const x of rs) for (let i = 0; i < P; i++) mean[i] = mean[i]! + (x.values[i]! * x.sampleCount) / total;
    const norm = Math.sqrt(mean.reduce((a, g) => a + g * g, 0));
    const scale = Math.min(1, 1 / (norm + 1e-6));
    opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(Float32Array.from(mean, (g) => g * scale)) }]);
  }
  const out = v.dataSync() as Float32Array;
  v.dispose();
  return Float32Array.from(out);
}

const setup = (owners: ShardOwners, options: Record<string, unknown> = {}) =>
  createShardedUpdateRule({ runId: 'r1', config, options: ShardedOptionsSchema.parse(options), paramCount: P, owners, layout: { entries: [{ offset: 0, size: 600 }, { offset: 600, size: 400 }] } });

describe('the sharded update rule', () => {
  for (const n of [1, 2, 3, 4]) {
    it(`with ${n} owner(s) equals tfjs Adam on the full vector, and holds no optimizer state itself`, async () => {
      const owners = new InProcessOwners(Array.from({ length: n }, (_, i) => `o${i}`));
      const rule = setup(owners, { min_owners: n });
      const params = Float32Array.from({ length: P }, (_, i) => Math.sin(i));
      const init = params.slice();
      for (let s = 0; s < 6; s++) await rule.apply(params, results(s), s);
      const ref = tfjsReference(init, 6);
      let worst = 0;
      for (let i = 0; i < P; i++) worst = Math.max(worst, Math.abs(params[i]! - ref[i]!));
      expect(worst).toBeLessThanOrEqual(1e-5);
      // Adam: two slots of P float32 values in all, split over the owners.
      const bytes = owners.live().map((o) => owners.optimizerBytes(o));
      expect(bytes.reduce((a, b) => a + b, 0)).toBe(2 * 4 * P);
      expect(Math.max(...bytes)).toBeLessThanOrEqual(Math.ceil(P / n) * 2 * 4);
      const state = await rule.state();
      expect(state).toMatchObject({ name: 'adam', step: 6 });
      expect(state.slots.m).toHaveLength(P);
    });
  }

  it('state() then load() on a rule with a different number of owners continues identically', async () => {
    const a = new InProcessOwners(['a0', 'a1']);
    const ruleA = setup(a, { min_owners: 2 });
    const params = Float32Array.from({ length: P }, (_, i) => Math.cos(i));
    const init = params.slice();
    for (let s = 0; s < 3; s++) await ruleA.apply(params, results(s), s);
    const saved = await ruleA.state();
    const b = new InProcessOwners(['b0', 'b1', 'b2']);
    const ruleB = setup(b, { min_owners: 3 });
    ruleB.load(saved);
    for (let s = 3; s < 6; s++) await ruleB.apply(params, results(s), s);
    const ref = tfjsReference(init, 6);
    for (let i = 0; i < P; i++) expect(Math.abs(params[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5);
  });

  it('a lost owner is replaced from its replica (an Event says so); a lost range without one is SHARD_LOST', async () => {
    const owners = new InProcessOwners(['o0', 'o1', 'o2']);
    const rule = setup(owners, { min_owners: 3, replicas: 1 });
    const params = Float32Array.from({ length: P }, (_, i) => Math.sin(i));
    const init = params.slice();
    await rule.apply(params, results(0), 0);
    owners.leave('o1');
    const out = await rule.apply(params, results(1), 1);
    expect(out.events?.map((e) => e.kind)).toEqual(['shard_owner_changed']);
    expect(JSON.stringify(out.events)).toContain('name-o1');
    for (let s = 2; s < 6; s++) await rule.apply(params, results(s), s);
    const ref = tfjsReference(init, 6);
    for (let i = 0; i < P; i++) expect(Math.abs(params[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5);

    const bare = new InProcessOwners(['x0', 'x1']);
    const noReplica = setup(bare, { min_owners: 2 });
    await noReplica.apply(params.slice(), results(0), 0);
    bare.leave('x0');
    await expect(noReplica.apply(params.slice(), results(1), 1)).rejects.toThrow(/name-x0.*no live replica/);
    await expect(noReplica.apply(params.slice(), results(1), 1)).rejects.toHaveProperty('code', 'SHARD_LOST');
  });

  it('an owner whose answer is wrong is not used; its replica gives the values', async () => {
    const owners = new InProcessOwners(['o0', 'o1']);
    owners.wrong.add('o0');
    const rule = setup(owners, { min_owners: 2, replicas: 1 });
    const params = Float32Array.from({ length: P }, (_, i) => Math.sin(i));
    const init = params.slice();
    for (let s = 0; s < 6; s++) await rule.apply(params, results(s), s);
    expect(params.every(Number.isFinite)).toBe(true);
    const ref = tfjsReference(init, 6);
    for (let i = 0; i < P; i++) expect(Math.abs(params[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5);
    // o0 was dropped: only o1 holds ranges now.
    expect(owners.holders.get('o0')!.size).toBe(0);
  });

  it('a checkpoint from a different optimizer is refused when loaded', () => {
    const rule = setup(new InProcessOwners(['o0']));
    expect(() => rule.load({ name: 'sgd', step: 1, slots: {} })).toThrow(/sgd|adam/);
  });
});
