import { describe, expect, it } from 'vitest';
import { type Dataset, datasetHead, decodeDataset, encodeDataset } from '../../../core/data/dataset.ts';
import { encodedDatasetHead } from '../../../core/data/encoded-dataset-head.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

function joined(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(chunks));
}

/** `size` samples of shape [3, 2]; exact k/255 pixels when `pixels`, else arbitrary floats. */
function sample(size: number, pixels: boolean, name = 'set'): Dataset {
  const features = Float32Array.from({ length: size * 6 }, (_, i) => (pixels ? ((i * 37) % 256) / 255 : Math.sin(i) * 3));
  return { name, size, inputShape: [3, 2], numClasses: 5, features, labels: Uint8Array.from({ length: size }, (_, i) => (i * 3) % 5) };
}

describe('encodedDatasetHead', () => {
  it('is byte for byte encodeDataset of the head for a one-byte-per-pixel set, at every count, whatever the name length (padding)', () => {
    for (const name of ['', 'a', 'mnist-train', 'seven-b']) {
      const ds = sample(9, true, name);
      const whole = encodeDataset(ds);
      for (let count = 0; count <= ds.size; count++) {
        expect(Buffer.from(joined(encodedDatasetHead(whole, count))).equals(Buffer.from(encodeDataset(datasetHead(ds, count))))).toBe(true);
      }
    }
  });

  it('keeps a float32 encoding float32: the head decodes to the same samples', () => {
    const ds = sample(7, false);
    const whole = encodeDataset(ds);
    for (const count of [0, 1, 4, 7]) {
      const head = datasetHead(ds, count);
      expect(Buffer.from(joined(encodedDatasetHead(whole, count))).equals(Buffer.from(encodeDataset(head, 'float32')))).toBe(true);
      const back = decodeDataset(joined(encodedDatasetHead(whole, count)));
      expect(back.features).toEqual(Float32Array.from(head.features));
      expect(back.labels).toEqual(Uint8Array.from(head.labels));
    }
  });

  it('copies only the header: the samples are views of the given bytes, and the whole count is the bytes themselves', () => {
    const whole = encodeDataset(sample(9, true));
    const chunks = encodedDatasetHead(whole, 4);
    expect(chunks.slice(1).every((c) => c.buffer === whole.buffer)).toBe(true);
    expect(chunks[0]!.buffer).not.toBe(whole.buffer);
    expect(encodedDatasetHead(whole, 9)).toEqual([whole]);
  });

  it('refuses a count out of range and bytes that are not an encoded data set, naming the problem', () => {
    const whole = encodeDataset(sample(3, true));
    expect(() => encodedDatasetHead(whole, 4)).toThrow(/cannot take 4 samples of an encoded dataset of size 3/);
    expect(() => encodedDatasetHead(whole, 1.5)).toThrow(CrowdtrainError);
    expect(() => encodedDatasetHead(whole.subarray(0, whole.length - 1), 1)).toThrow(/do not hold 3 samples/);
    expect(() => encodedDatasetHead(new Uint8Array(40), 0)).toThrow(/magic/);
  });
});
