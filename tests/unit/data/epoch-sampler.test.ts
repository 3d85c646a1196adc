import { describe, it, expect } from 'vitest';
import { EpochSampler, splitBatch, type SamplerState } from '../../../core/data/epoch-sampler.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

function drain(s: EpochSampler, size: number, steps: number): { epoch: number; indices: number[] }[] {
  const out = [];
  for (let k = 0; k < steps; k++) out.push(s.nextBatch(size));
  return out;
}

describe('EpochSampler basics', () => {
  it('serves each index exactly once per epoch in batches of the requested size, the last one short', () => {
    const s = new EpochSampler({ seed: 3, datasetSize: 10 });
    const batches = drain(s, 4, 6);
    expect(batches.map((b) => b.indices.length)).toEqual([4, 4, 2, 4, 4, 2]);
    expect(batches.map((b) => b.epoch)).toEqual([0, 0, 0, 1, 1, 1]);
    const e0 = batches.slice(0, 3).flatMap((b) => b.indices);
    const e1 = batches.slice(3).flatMap((b) => b.indices);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('is deterministic: same seed gives the same batches', () => {
    const a = drain(new EpochSampler({ seed: 11, datasetSize: 1000 }), 64, 40);
    const b = drain(new EpochSampler({ seed: 11, datasetSize: 1000 }), 64, 40);
    expect(a).toEqual(b);
    const c = drain(new EpochSampler({ seed: 12, datasetSize: 1000 }), 64, 40);
    expect(c).not.toEqual(a);
  });

  it('shuffles each epoch differently and not in identity order', () => {
    const s = new EpochSampler({ seed: 5, datasetSize: 500 });
    const e0 = s.nextBatch(500).indices;
    const e1 = s.nextBatch(500).indices;
    const e2 = s.nextBatch(500).indices;
    expect(e0).not.toEqual(e1);
    expect(e1).not.toEqual(e2);
    expect(e0).not.toEqual(Array.from({ length: 500 }, (_v, i) => i));
    // fraction of fixed positions between two epochs is small for a real shuffle
    const same = e0.filter((v, i) => e1[i] === v).length;
    expect(same).toBeLessThan(10);
  });

  it('serves given-back indices first, counted for their own epoch, and reports progress', () => {
    const s = new EpochSampler({ seed: 1, datasetSize: 8 });
    const b0 = s.nextBatch(4);
    expect(s.progress()).toBe(0.5);
    s.giveBack(0, b0.indices.slice(2));
    expect(s.progress()).toBe(0.25);
    const b1 = s.nextBatch(4);
    expect(b1.epoch).toBe(0);
    expect(b1.indices.slice(0, 2)).toEqual(b0.indices.slice(2));
    const b2 = s.nextBatch(4);
    expect(b2.indices).toHaveLength(2);
    expect(s.progress()).toBe(1);
    const b3 = s.nextBatch(4); // epoch 1 begins
    expect(b3.epoch).toBe(1);
    expect(s.epoch).toBe(1);
    // a late failure from epoch 0 is served alone, labelled epoch 0, before epoch 1 continues
    s.giveBack(0, b2.indices);
    const b4 = s.nextBatch(4);
    expect(b4).toEqual({ epoch: 0, indices: b2.indices });
    expect(s.nextBatch(4).epoch).toBe(1);
  });

  it('rejects bad sizes, future epochs, out-of-range and duplicate give-backs', () => {
    const s = new EpochSampler({ seed: 1, datasetSize: 8 });
    const b = s.nextBatch(4);
    expect(() => s.nextBatch(0)).toThrow(CrowdtrainError);
    expect(() => s.giveBack(1, [0])).toThrow(/epoch 1: current epoch is 0/);
    expect(() => s.giveBack(0, [8])).toThrow(/index 8 is out of range for dataset size 8/);
    const notServed = [0, 1, 2, 3, 4, 5, 6, 7].find((i) => !b.indices.includes(i))!;
    expect(() => s.giveBack(0, [notServed])).toThrow(new RegExp(`index ${notServed} of epoch 0 has not been handed out yet`));
    s.giveBack(0, [b.indices[0]!]);
    expect(() => s.giveBack(0, [b.indices[0]!])).toThrow(/already pending/);
    expect(() => new EpochSampler({ seed: 1, datasetSize: 0 })).toThrow(/dataset size 0/);
  });

  it('validates restored state', () => {
    const good: SamplerState = { seed: 1, datasetSize: 8, epoch: 2, cursor: 3, pending: [{ epoch: 1, indices: [4] }] };
    expect(new EpochSampler({ seed: 1, datasetSize: 8 }, good).state()).toEqual(good);
    const bad: [SamplerState, RegExp][] = [
      [{ ...good, seed: 2 }, /seed 2/],
      [{ ...good, datasetSize: 9 }, /dataset size 9/],
      [{ ...good, cursor: 9 }, /cursor 9/],
      [{ ...good, pending: [{ epoch: 3, indices: [1] }] }, /epoch 3/],
      [{ ...good, pending: [{ epoch: 1, indices: [8] }] }, /index 8/],
      [{ ...good, epoch: -1 }, /epoch/],
      [{ ...good, cursor: 0, pending: [{ epoch: 2, indices: [1] }] }, /not been handed out/],
    ];
    for (const [state, re] of bad) {
      let err: unknown;
      try {
        new EpochSampler({ seed: 1, datasetSize: 8 }, state);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CrowdtrainError);
      expect((err as CrowdtrainError).code).toBe('CHECKPOINT_INVALID');
      expect((err as Error).message).toMatch(re);
    }
  });

  it('state() is a deep copy', () => {
    const s = new EpochSampler({ seed: 1, datasetSize: 8 });
    s.giveBack(0, s.nextBatch(3).indices);
    const st = s.state();
    st.pending[0]!.indices.push(7);
    st.cursor = 0;
    expect(s.state().pending[0]!.indices).toHaveLength(3);
    expect(s.state().cursor).toBe(3);
  });
});

describe('splitBatch', () => {
  it('splits evenly, contiguous and in order', () => {
    expect(splitBatch([0, 1, 2, 3, 4], 2)).toEqual([[0, 1, 2], [3, 4]]);
    expect(splitBatch([9, 8, 7, 6, 5, 4, 3], 3)).toEqual([[9, 8, 7], [6, 5], [4, 3]]);
    expect(splitBatch([1, 2], 4)).toEqual([[1], [2], [], []]);
  });

  it('splits proportionally to weights with largest remainders, zero weight gets nothing', () => {
    expect(splitBatch([0, 1, 2, 3], 2, [3, 1])).toEqual([[0, 1, 2], [3]]);
    const parts = splitBatch(Array.from({ length: 10 }, (_v, i) => i), 3, [1, 0, 2]);
    expect(parts.map((p) => p.length)).toEqual([3, 0, 7]);
    expect(parts.flat()).toEqual(Array.from({ length: 10 }, (_v, i) => i));
  });

  it('rejects bad parts and weights', () => {
    expect(() => splitBatch([1], 0)).toThrow(/0 parts/);
    expect(() => splitBatch([1], 2, [1])).toThrow(/1 weights given for 2 parts/);
    expect(() => splitBatch([1], 2, [1, -1])).toThrow(/weight 1 is -1/);
    expect(() => splitBatch([1], 2, [0, 0])).toThrow(/sum to 0/);
  });
});

describe('EpochSampler property: elastic fleet with failures', () => {
  it('trains every index exactly once per epoch across joins, leaves, failures and restarts', () => {
    let totalRestarts = 0;
    let totalFailures = 0;
    for (let trial = 0; trial < 60; trial++) {
      const rng = new SeededRandom(1000 + trial);
      const datasetSize = 1 + rng.int(150);
      const batchSize = 1 + rng.int(40);
      const seed = rng.int(1_000_000);
      const targetEpochs = 3 + rng.int(2);
      const where = `trial ${trial} (size ${datasetSize}, batch ${batchSize})`;
      let sampler = new EpochSampler({ seed, datasetSize });
      const trained = new Map<number, Uint8Array>(); // epoch (as reported by the sampler) -> count per index
      // a dead worker's slice is given back some steps later (the coordinator notices late)
      let deadSlices: { epoch: number; indices: number[]; dueStep: number }[] = [];
      let workers = 1 + rng.int(4);

      for (let stepNo = 0; sampler.epoch <= targetEpochs || deadSlices.length > 0 || sampler.state().pending.length > 0; stepNo++) {
        expect(stepNo, where).toBeLessThan(100_000);
        const churn = rng.next();
        if (churn < 0.1) workers += 1;
        else if (churn < 0.2 && workers > 1) workers -= 1;

        if (rng.next() < 0.05) {
          // checkpoint and restart: the restored sampler must produce the same future batches
          const restored = new EpochSampler({ seed, datasetSize }, JSON.parse(JSON.stringify(sampler.state())) as SamplerState);
          const probeOriginal = new EpochSampler({ seed, datasetSize }, sampler.state());
          const probeRestored = new EpochSampler({ seed, datasetSize }, restored.state());
          expect(drain(probeRestored, batchSize, 5), where).toEqual(drain(probeOriginal, batchSize, 5));
          sampler = restored;
          totalRestarts++;
        }

        for (const d of deadSlices.filter((x) => x.dueStep <= stepNo)) sampler.giveBack(d.epoch, d.indices);
        deadSlices = deadSlices.filter((x) => x.dueStep > stepNo);

        const batch = sampler.nextBatch(batchSize);
        expect(batch.indices.length, where).toBeGreaterThan(0);
        expect(batch.indices.length, where).toBeLessThanOrEqual(batchSize);
        const weights = rng.next() < 0.5 ? undefined : Array.from({ length: workers }, () => 0.1 + rng.next());
        const slices = splitBatch(batch.indices, workers, weights);
        expect(slices).toHaveLength(workers);
        expect(slices.flat(), where).toEqual(batch.indices); // contiguous cover, in order
        expect(new Set(batch.indices).size, where).toBe(batch.indices.length); // slices disjoint

        for (const slice of slices) {
          if (slice.length > 0 && rng.next() < 0.15) {
            deadSlices.push({ epoch: batch.epoch, indices: slice, dueStep: stepNo + rng.int(4) });
            totalFailures++;
            continue;
          }
          let counts = trained.get(batch.epoch);
          if (!counts) trained.set(batch.epoch, (counts = new Uint8Array(datasetSize)));
          for (const i of slice) counts[i]! += 1;
        }
      }

      for (let e = 0; e <= targetEpochs; e++) {
        const counts = trained.get(e);
        expect(counts, `${where} epoch ${e}`).toBeDefined();
        for (let i = 0; i < datasetSize; i++) {
          if (counts![i] !== 1) throw new Error(`${where}: index ${i} trained ${counts![i]} times in epoch ${e}`);
        }
      }
      for (const [e, counts] of trained) expect(Math.max(...counts), `${where} epoch ${e}`).toBeLessThanOrEqual(1);
    }
    // the simulation really exercised restarts and failures
    expect(totalRestarts).toBeGreaterThan(20);
    expect(totalFailures).toBeGreaterThan(100);
  });

  it('a JSON round trip mid-epoch with pending indices continues identically', () => {
    const a = new EpochSampler({ seed: 77, datasetSize: 300 });
    a.nextBatch(50);
    const b1 = a.nextBatch(50);
    a.giveBack(0, b1.indices.slice(10, 30));
    a.nextBatch(7);
    const b = new EpochSampler({ seed: 77, datasetSize: 300 }, JSON.parse(JSON.stringify(a.state())) as SamplerState);
    expect(drain(b, 33, 30)).toEqual(drain(a, 33, 30));
  });
});
