import { describe, it, expect } from 'vitest';
import { type Dataset, decodeDataset, encodeDataset, sampleLength } from '../../../core/data/dataset.ts';
import { DatasetSpecSchema, loadDataset, parseDatasetSpec } from '../../../core/data/dataset-spec.ts';
import { MNIST_TEST_SIZE, MNIST_TRAIN_SIZE, loadMnist } from '../../../core/data/mnist.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) counts[l]!++;
  return counts;
}

function classMeans(ds: Dataset): Float64Array[] {
  const len = sampleLength(ds.inputShape);
  const means = Array.from({ length: ds.numClasses }, () => new Float64Array(len));
  const counts = classCounts(ds);
  for (let i = 0; i < ds.size; i++) {
    const m = means[ds.labels[i]!]!;
    for (let j = 0; j < len; j++) m[j]! += ds.features[i * len + j]! / counts[ds.labels[i]!]!;
  }
  return means;
}

/** Test accuracy of a nearest-class-mean classifier fitted on train. */
function nearestMeanAccuracy(train: Dataset, test: Dataset): number {
  const means = classMeans(train);
  const len = sampleLength(test.inputShape);
  let correct = 0;
  for (let i = 0; i < test.size; i++) {
    let best = -1;
    let bestD = Infinity;
    means.forEach((m, c) => {
      let d = 0;
      for (let j = 0; j < len; j++) d += (test.features[i * len + j]! - m[j]!) ** 2;
      if (d < bestD) [best, bestD] = [c, d];
    });
    if (best === test.labels[i]) correct++;
  }
  return correct / test.size;
}

function range(ds: Dataset): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ds.features) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

describe('DatasetSpecSchema', () => {
  it('fills synthetic defaults', () => {
    expect(parseDatasetSpec({ name: 'synthetic' })).toEqual({ name: 'synthetic', shape: [16], classes: 4, train_size: 2048, test_size: 512, seed: 1, noise: 0.3 });
    expect(parseDatasetSpec({ name: 'mnist' })).toEqual({ name: 'mnist' });
    expect(DatasetSpecSchema.parse({ name: 'mnist', train_size: 100 })).toEqual({ name: 'mnist', train_size: 100 });
  });

  it('rejects unknown names, unknown keys, bad values with INVALID_CONFIG naming the path', () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'cifar' }, /name/],
      [{ name: 'synthetic', clases: 3 }, /clases/],
      [{ name: 'synthetic', classes: 1 }, /classes/],
      [{ name: 'synthetic', shape: [0] }, /shape\.0/],
      [{ name: 'synthetic', noise: -1 }, /noise/],
      [{ name: 'synthetic', train_size: 1.5 }, /train_size/],
      [{ name: 'mnist', train_size: MNIST_TRAIN_SIZE + 1 }, /train_size/],
      [{ name: 'synthetic', shape: [1000, 1000], train_size: 1000 }, /too large/],
    ];
    for (const [raw, re] of cases) {
      let err: unknown;
      try {
        parseDatasetSpec(raw);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(raw)).toBeInstanceOf(CrowdtrainError);
      expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
      expect((err as Error).message).toMatch(re);
    }
  });
});

describe('synthetic data', () => {
  it('is deterministic for a seed and differs for another', async () => {
    const a = await loadDataset({ name: 'synthetic', train_size: 300, test_size: 100 });
    const b = await loadDataset({ name: 'synthetic', train_size: 300, test_size: 100 });
    const c = await loadDataset({ name: 'synthetic', train_size: 300, test_size: 100, seed: 2 });
    expect(b).toEqual(a);
    expect(Array.from(c.train.features)).not.toEqual(Array.from(a.train.features));
    expect(Array.from(a.test.features.subarray(0, 16))).not.toEqual(Array.from(a.train.features.subarray(0, 16)));
  });

  it('has the requested sizes, balanced labels and values in [0, 1]', async () => {
    const { train, test } = await loadDataset({ name: 'synthetic', shape: [8, 8, 1], classes: 3, train_size: 300, test_size: 90 });
    expect([train.size, test.size]).toEqual([300, 90]);
    expect(train.inputShape).toEqual([8, 8, 1]);
    expect(train.features).toHaveLength(300 * 64);
    expect(classCounts(train)).toEqual([100, 100, 100]);
    expect(classCounts(test)).toEqual([30, 30, 30]);
    const [lo, hi] = range(train);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
  });

  it('is learnable: class means differ and nearest-class-mean beats chance by far', async () => {
    const { train, test } = await loadDataset({ name: 'synthetic' });
    const means = classMeans(train);
    for (let a = 0; a < means.length; a++) {
      for (let b = a + 1; b < means.length; b++) {
        const dist = Math.sqrt(means[a]!.reduce((s, v, j) => s + (v - means[b]![j]!) ** 2, 0));
        expect(dist, `classes ${a} and ${b}`).toBeGreaterThan(0.5);
      }
    }
    expect(nearestMeanAccuracy(train, test)).toBeGreaterThan(0.9);
    // with pure noise the same classifier is at chance level
    const noisy = await loadDataset({ name: 'synthetic', noise: 100, train_size: 512, test_size: 512 });
    expect(nearestMeanAccuracy(noisy.train, noisy.test)).toBeLessThan(0.5);
  });
});

describe('MNIST', () => {
  it('loads the fixed 8000/2000 split with balanced labels and pixels k/255 in [0, 1]', async () => {
    const t0 = performance.now();
    const { train, test } = await loadMnist();
    const ms = performance.now() - t0;
    console.log(`loadMnist first call: ${ms.toFixed(0)} ms`);
    expect([train.size, test.size]).toEqual([MNIST_TRAIN_SIZE, MNIST_TEST_SIZE]);
    expect([train.size, test.size]).toEqual([8000, 2000]);
    expect(train.inputShape).toEqual([28, 28, 1]);
    expect(train.numClasses).toBe(10);
    expect(train.features).toHaveLength(8000 * 784);
    const tc = classCounts(train);
    const ec = classCounts(test);
    // the package's class sizes (863..1127) split 80/20 per class
    expect(tc).toEqual([801, 902, 793, 826, 784, 690, 811, 856, 755, 782]);
    expect(ec).toEqual([200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
    for (const ds of [train, test]) {
      const [lo, hi] = range(ds);
      expect(lo).toBe(0);
      expect(hi).toBe(1);
      let offGrid = 0;
      for (const v of ds.features) if (Math.fround(Math.round(v * 255) / 255) !== v) offGrid++;
      expect(offGrid).toBe(0);
    }
    // interleaved: the first 10 samples are one of each digit, so prefixes are balanced
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const head = await loadDataset({ name: 'mnist', train_size: 1000, test_size: 100 });
    expect(classCounts(head.train)).toEqual(new Array(10).fill(100));
    expect(head.test.size).toBe(100);
    // digits are real: a nearest-class-mean classifier gets well above chance
    expect(nearestMeanAccuracy(train, test)).toBeGreaterThan(0.75);
  });

  it('is deterministic, memoised, and train/test do not share images', async () => {
    const a = await loadMnist();
    const b = await loadMnist();
    expect(b.train).toBe(a.train); // memoised
    const fresh = await loadDataset({ name: 'mnist' });
    expect(fresh.train.features).toBe(a.train.features);
    // no test image appears in train (hash rows)
    const rowKey = (ds: Dataset, i: number): string => Array.from(ds.features.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255)).join(',');
    const trainRows = new Set(Array.from({ length: a.train.size }, (_v, i) => rowKey(a.train, i)));
    let shared = 0;
    for (let i = 0; i < a.test.size; i++) if (trainRows.has(rowKey(a.test, i))) shared++;
    expect(shared).toBe(0);
    expect(trainRows.size).toBe(MNIST_TRAIN_SIZE); // no duplicate images inside train either
  });

  it('encodes at one byte per pixel and round-trips exactly', async () => {
    const { train } = await loadMnist();
    const t0 = performance.now();
    const bytes = encodeDataset(train);
    const t1 = performance.now();
    const back = decodeDataset(bytes);
    const t2 = performance.now();
    console.log(`mnist-train encode ${(t1 - t0).toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms, ${bytes.length} bytes`);
    expect(bytes.length).toBeLessThan(8000 * 785 + 100);
    expect(back.name).toBe('mnist-train');
    expect(back.inputShape).toEqual([28, 28, 1]);
    expect(Buffer.from(back.labels).equals(Buffer.from(train.labels))).toBe(true);
    expect(back.features).toHaveLength(train.features.length);
    let differing = 0;
    for (let i = 0; i < train.features.length; i++) if (back.features[i] !== train.features[i]) differing++;
    expect(differing).toBe(0);
  });
});
