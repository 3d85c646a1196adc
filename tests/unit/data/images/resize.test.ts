import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { resizeImage } from '../../../../core/data/images/resize.ts';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';

const gray = (width: number, height: number, values: number[]) => ({ width, height, channels: 1, data: Float32Array.from(values) });

describe('resizeImage', () => {
  it('bilinear, half-pixel centres: 2x2 -> 4x4 by hand', () => {
    // Output column i samples x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1];
    // rows likewise. Top row [0, 10] -> [0, 2.5, 7.5, 10], bottom [20, 30] -> [20, 22.5, 27.5, 30].
    const out = resizeImage(gray(2, 2, [0, 10, 20, 30]), 4, 4, 'bilinear');
    expect([out.width, out.height, out.channels]).toEqual([4, 4, 1]);
    expect(Array.from(out.data)).toEqual([
      0, 2.5, 7.5, 10,
      5, 7.5, 12.5, 15,
      15, 17.5, 22.5, 25,
      20, 22.5, 27.5, 30,
    ]);
  });

  it('bilinear keeps the channels of each pixel apart (RGB 1x2 -> 1x4)', () => {
    const out = resizeImage({ width: 2, height: 1, channels: 3, data: Float32Array.of(0, 100, 200, 40, 60, 80) }, 1, 4, 'bilinear');
    expect(Array.from(out.data)).toEqual([0, 100, 200, 10, 90, 170, 30, 70, 110, 40, 60, 80]);
  });

  it('bilinear equals tf.image.resizeBilinear with halfPixelCenters (up and down, non-square)', () => {
    const rng = new SeededRandom(3);
    const [h, w, c] = [7, 11, 3];
    const data = Float32Array.from({ length: h * w * c }, () => rng.next() * 255);
    for (const [oh, ow] of [[28, 28], [3, 5], [7, 22], [1, 1]] as const) {
      const ours = resizeImage({ width: w, height: h, channels: c, data }, oh, ow, 'bilinear').data;
      const theirs = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(data, [h, w, c]), [oh, ow], false, true).dataSync());
      expect(ours.length).toBe(theirs.length);
      ours.forEach((v, i) => expect(v).toBeCloseTo(theirs[i]!, 3));
    }
  });

  it('area averages the input each output pixel covers, fractional pixels weighted (4x4 -> 2x2, 3 -> 2)', () => {
    const out = resizeImage(gray(4, 4, [0, 2, 4, 6, 2, 4, 6, 8, 10, 10, 20, 20, 10, 10, 20, 20]), 2, 2, 'area');
    expect(Array.from(out.data)).toEqual([2, 6, 10, 20]);
    // Output 0 covers [0, 1.5): pixel 0 whole, half of pixel 1 -> (0 + 3 * 0.5) / 1.5 = 1;
    // output 1 covers [1.5, 3): half of pixel 1, pixel 2 -> (3 * 0.5 + 6) / 1.5 = 5.
    const row = resizeImage(gray(3, 1, [0, 3, 6]), 1, 2, 'area');
    expect(Array.from(row.data).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1, 5]);
  });

  it('the same size is a copy; bad sizes are refused', () => {
    const img = gray(2, 1, [1, 2]);
    const same = resizeImage(img, 1, 2, 'area');
    expect(Array.from(same.data)).toEqual([1, 2]);
    expect(same.data).not.toBe(img.data);
    expect(() => resizeImage(img, 0, 2, 'bilinear')).toThrow(/cannot resize to 0 x 2/);
    expect(() => resizeImage({ ...img, width: 3 }, 2, 2, 'bilinear')).toThrow(/3 x 1 x 1 has 2 values/);
  });
});
