import { describe, expect, it } from 'vitest';
import { splitBatch } from '../../../../core/data/epoch-sampler.ts';
import { DdpRunMachine, type RunEffect, type RunMachineOptions } from '../../../../core/run/ddp/ddp-run-machine.ts';
import { splitCapped } from '../../../../core/run/ddp/slice-caps.ts';

type Assign = Extract<RunEffect, { type: 'assign' }>;
const assignsOf = (fx: RunEffect[]) => fx.filter((e): e is Assign => e.type === 'assign');
const recordsOf = (fx: RunEffect[], kind: string) => fx.filter((e): e is Extract<RunEffect, { type: 'record' }> => e.type === 'record' && e.kind === kind);

const base: RunMachineOptions = { seed: 3, datasetSize: 100, batchSizePerWorker: 16, globalBatchSize: 48, totalUpdates: 30, minWorkers: 3, evalEvery: 1000, checkpointEvery: 1000 };

interface Trained {
  /** Each round's slices by worker, in step order. */
  rounds: Map<string, number>[];
  /** Indices trained per epoch. */
  epochs: Map<number, number[]>;
  effects: RunEffect[];
}

/**
 * Runs a machine to its end: every worker answers its slice at once, taking `msPerSample(worker)`
 * per sample (so the throughput weighting has speeds to work with).
 */
function runToEnd(m: DdpRunMachine, first: RunEffect[], msPerSample: (w: string) => number): Trained {
  const out: Trained = { rounds: [], epochs: new Map(), effects: [...first] };
  let round = assignsOf(first)[0];
  for (let guard = 0; round && guard < 1000; guard++) {
    const r: Assign = round;
    round = undefined;
    out.rounds.push(new Map(r.assignments.map((a) => [a.workerId, a.indices.length])));
    const list = out.epochs.get(r.epoch) ?? [];
    for (const a of r.assignments) list.push(...a.indices);
    out.epochs.set(r.epoch, list);
    const fx: RunEffect[] = [];
    for (const a of r.assignments) {
      fx.push(...m.dispatch({ type: 'resultAccepted', workerId: a.workerId, step: r.step, sampleCount: a.indices.length, loss: 1, accuracy: 0, elapsedMs: a.indices.length * msPerSample(a.workerId) }));
    }
    const apply = fx.find((e) => e.type === 'applyUpdate');
    if (apply?.type === 'applyUpdate') fx.push(...m.dispatch({ type: 'updateApplied', step: apply.step }));
    out.effects.push(...fx);
    round = assignsOf(fx)[0];
  }
  return out;
}

/** Every epoch but the last trained each sample exactly once. */
function expectEachSampleOncePerEpoch(epochs: Map<number, number[]>, datasetSize: number, minEpochs: number): void {
  const keys = [...epochs.keys()].sort((a, b) => a - b);
  expect(keys.length).toBeGreaterThanOrEqual(minEpochs);
  for (const e of keys.slice(0, -1)) {
    const idx = epochs.get(e)!;
    expect(idx.length, `epoch ${e}`).toBe(datasetSize);
    expect(new Set(idx).size, `epoch ${e} distinct`).toBe(datasetSize);
  }
}

function start(opts: RunMachineOptions, fleet: [string, number | undefined][]): { m: DdpRunMachine; first: RunEffect[] } {
  const m = new DdpRunMachine(opts);
  const first = m.dispatch({ type: 'start' });
  for (const [workerId, maxBatch] of fleet) first.push(...m.dispatch({ type: 'workerReady', workerId, ...(maxBatch !== undefined ? { maxBatch } : {}) }));
  return { m, first };
}

describe('splitCapped', () => {
  it('without a binding cap it is splitBatch', () => {
    const indices = Array.from({ length: 37 }, (_, i) => 100 + i);
    for (const weights of [undefined, [3, 1, 2], [0.5, 7, 0.25]]) {
      expect(splitCapped(indices, ['a', 'b', 'c'], weights, () => Infinity)).toEqual(splitBatch(indices, 3, weights));
      expect(splitCapped(indices, ['a', 'b', 'c'], weights, () => 37)).toEqual(splitBatch(indices, 3, weights));
    }
  });

  it('a capped worker gets its cap and the excess goes to the others by weight', () => {
    const indices = Array.from({ length: 48 }, (_, i) => i);
    // By weight a would take 48 x 6/8 = 36; capped at 8, the other 40 split 1 : 1.
    const parts = splitCapped(indices, ['a', 'b', 'c'], [6, 1, 1], (w) => (w === 'a' ? 8 : Infinity));
    expect(parts.map((p) => p.length)).toEqual([8, 20, 20]);
    expect(parts.flat()).toEqual(indices);
    // Two caps bind, one after the other: b's share of the rest passes its cap too.
    const caps: Record<string, number> = { a: 8, b: 12 };
    expect(splitCapped(indices, ['a', 'b', 'c'], [6, 3, 1], (w) => caps[w] ?? Infinity).map((p) => p.length)).toEqual([8, 12, 28]);
  });

  it('a worker of weight 0 takes only what the weighted workers cannot hold', () => {
    const indices = Array.from({ length: 20 }, (_, i) => i);
    expect(splitCapped(indices, ['a', 'b', 'spare'], [1, 1, 0], (w) => (w === 'spare' ? Infinity : 6)).map((p) => p.length)).toEqual([6, 6, 8]);
    expect(splitCapped(indices, ['a', 'b', 'spare'], [1, 1, 0], () => Infinity).map((p) => p.length)).toEqual([10, 10, 0]);
  });

  it('refuses a batch the caps cannot hold', () => {
    expect(() => splitCapped([1, 2, 3], ['a'], undefined, () => 2)).toThrow(/does not fit/);
  });
});

describe('DdpRunMachine and a worker’s declared maxBatch', () => {
  it('never gives a worker more than its maxBatch, even as the fastest; the excess goes to the others and each sample is trained once per epoch', () => {
    // 'small' is 10x faster: by throughput it would take most of each batch of 48.
    const { m, first } = start(base, [['small', 8], ['b', undefined], ['c', undefined]]);
    const t = runToEnd(m, first, (w) => (w === 'small' ? 0.1 : 1));
    expect(m.step).toBe(30);
    for (const round of t.rounds) expect(round.get('small') ?? 0).toBeLessThanOrEqual(8);
    // Full rounds hold the whole global batch (an epoch of 100 ends with a 4-sample round).
    const sizes = t.rounds.map((r) => [...r.values()].reduce((a, n) => a + n, 0));
    expect(sizes.filter((n) => n !== 48).every((n) => n === 4)).toBe(true);
    // Once speeds are known the capped worker is full and the others share the rest.
    expect(t.rounds.slice(-6).some((r) => r.get('small') === 8)).toBe(true);
    expect(recordsOf(t.effects, 'batch_capped')).toEqual([]);
    expectEachSampleOncePerEpoch(t.epochs, 100, 5);
  });

  it('when the fleet’s caps sum below the global batch, rounds train that many samples (one Event) and the rest stays for later rounds', () => {
    const { m, first } = start({ ...base, minWorkers: 2, totalUpdates: 40 }, [['a', 8], ['b', 10]]);
    const t = runToEnd(m, first, () => 1);
    expect(m.step).toBe(40);
    for (const r of t.rounds) {
      expect(r.get('a') ?? 0).toBeLessThanOrEqual(8);
      expect(r.get('b') ?? 0).toBeLessThanOrEqual(10);
      expect([...r.values()].reduce((a, n) => a + n, 0)).toBeLessThanOrEqual(18);
    }
    const capped = recordsOf(t.effects, 'batch_capped');
    expect(capped).toHaveLength(1);
    expect(capped[0]!.detail).toMatchObject({ step: 0, globalBatchSize: 48, samples: 18, maxBatch: { a: 8, b: 10 } });
    expectEachSampleOncePerEpoch(t.epochs, 100, 5);
  });

  it('a worker with room that joins lifts the limit', () => {
    const { m, first } = start({ ...base, minWorkers: 1 }, [['a', 8]]);
    const round0 = assignsOf(first)[0]!;
    expect(round0.assignments.map((a) => a.indices.length)).toEqual([8]);
    m.dispatch({ type: 'workerReady', workerId: 'big' });
    const fx = m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0, elapsedMs: 8 });
    expect(fx.some((e) => e.type === 'applyUpdate')).toBe(true);
    const next = assignsOf(m.dispatch({ type: 'updateApplied', step: 0 }))[0]!;
    const sizes = new Map(next.assignments.map((a) => [a.workerId, a.indices.length]));
    expect(sizes.get('a')).toBeLessThanOrEqual(8);
    expect([...sizes.values()].reduce((x, n) => x + n, 0)).toBe(48);
  });

  it('a left worker’s slice is taken over only by a member whose maxBatch holds it, else it goes back to the sampler', () => {
    const { m, first } = start({ ...base, sliceBalance: 'equal' }, [['small', 8], ['b', undefined], ['c', undefined]]);
    const r0 = assignsOf(first)[0]!;
    const sizeOf = (w: string) => r0.assignments.find((a) => a.workerId === w)!.indices.length;
    expect([sizeOf('small'), sizeOf('b'), sizeOf('c')]).toEqual([8, 20, 20]);
    // small is done first and idle, but c's 20 samples do not fit it: b takes them over once done.
    m.dispatch({ type: 'resultAccepted', workerId: 'small', step: 0, sampleCount: 8, loss: 1, accuracy: 0, elapsedMs: 10 });
    let fx = m.dispatch({ type: 'workerLeft', workerId: 'c', reason: 'gone' });
    expect(assignsOf(fx)).toEqual([]);
    fx = m.dispatch({ type: 'resultAccepted', workerId: 'b', step: 0, sampleCount: 20, loss: 1, accuracy: 0, elapsedMs: 20 });
    expect(assignsOf(fx).map((a) => a.assignments.map((s) => [s.workerId, s.indices.length]))).toEqual([[['b', 20]]]);
    // b leaves holding it: nobody left can hold 20 samples, so they go back to the sampler and the round applies without them.
    fx = m.dispatch({ type: 'workerLeft', workerId: 'b', reason: 'gone too' });
    const apply = fx.find((e) => e.type === 'applyUpdate');
    expect(apply).toMatchObject({ type: 'applyUpdate', step: 0 });
    expect(recordsOf(fx, 'slice_reassigned').map((e) => e.detail.reassignedSamples)).toContain(20);
    // The samples given back come first in the next round, in slices of at most 8.
    const next = assignsOf(m.dispatch({ type: 'updateApplied', step: 0 }))[0]!;
    expect(next.assignments).toEqual([{ workerId: 'small', indices: r0.assignments.find((a) => a.workerId === 'c')!.indices.slice(0, 8) }]);
  });
});
