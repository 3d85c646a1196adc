import type { Dataset } from './dataset.ts';
import { sampleLength } from './dataset.ts';
import { SeededRandom, mixSeed } from './seeded-random.ts';

/** Parameters of the synthetic classification data (the snake_case spec, already validated). */
export interface SyntheticOptions {
  shape: number[];
  classes: number;
  trainSize: number;
  testSize: number;
  seed: number;
  noise: number;
}

const PROTOTYPE_STREAM = 1;
const TRAIN_STREAM = 2;
const TEST_STREAM = 3;

function generate(name: string, prototypes: Float32Array[], opts: SyntheticOptions, size: number, stream: number): Dataset {
  const len = sampleLength(opts.shape);
  const rng = new SeededRandom(mixSeed(opts.seed, stream));
  const features = new Float32Array(size * len);
  const labels = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const cls = i % opts.classes;
    const proto = prototypes[cls]!;
    labels[i] = cls;
    for (let j = 0; j < len; j++) {
      const v = proto[j]! + opts.noise * rng.normal();
      features[i * len + j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { name, size, inputShape: [...opts.shape], numClasses: opts.classes, features, labels };
}

/**
 * Deterministic, learnable classification data: each class has a prototype drawn uniformly in [0, 1]^shape
 * from the seed; a sample is its class prototype plus gaussian noise (std `noise`), clipped to [0, 1], so
 * flat shapes and image shapes like [8, 8, 1] both work. Labels cycle 0, 1, ..., classes-1 (balanced).
 * Train and test share prototypes and use independent noise streams. Same options -> identical bytes.
 * @example const { train, test } = makeSyntheticDataset({ shape: [16], classes: 4, trainSize: 2048, testSize: 512, seed: 1, noise: 0.3 });
 */
export function makeSyntheticDataset(opts: SyntheticOptions): { train: Dataset; test: Dataset } {
  const len = sampleLength(opts.shape);
  const protoRng = new SeededRandom(mixSeed(opts.seed, PROTOTYPE_STREAM));
  const prototypes: Float32Array[] = [];
  for (let c = 0; c < opts.classes; c++) {
    const p = new Float32Array(len);
    for (let j = 0; j < len; j++) p[j] = protoRng.next();
    prototypes.push(p);
  }
  return {
    train: generate('synthetic-train', prototypes, opts, opts.trainSize, TRAIN_STREAM),
    test: generate('synthetic-test', prototypes, opts, opts.testSize, TEST_STREAM),
  };
}
