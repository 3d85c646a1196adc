import { describe, expect, it } from 'vitest';
import { TrainSplitCache, etagOf } from '../../../coordinator/http/train-split-cache.ts';

const bytes = (n: number) => new Uint8Array(n).fill(n % 256);

describe('TrainSplitCache', () => {
  it('encodes a key once, concurrent misses included, and serves the bytes with their ETag', async () => {
    const cache = new TrainSplitCache(4, 1000);
    let calls = 0;
    const encode = () => {
      calls++;
      return Promise.resolve(bytes(10));
    };
    const [a, b] = await Promise.all([cache.get('k', encode), cache.get('k', encode)]);
    expect(await cache.get('k', encode)).toBe(a);
    expect(b).toBe(a);
    expect(calls).toBe(1);
    expect(a.etag).toBe(etagOf(bytes(10)));
    expect(cache.stats()).toEqual({ entries: 1, bytes: 10, encodings: 1 });
  });

  it('drops the least recently used entry past the count bound', async () => {
    const cache = new TrainSplitCache(2, 1000);
    await cache.get('a', () => Promise.resolve(bytes(1)));
    await cache.get('b', () => Promise.resolve(bytes(2)));
    await cache.get('a', () => Promise.resolve(bytes(1))); // a is now the most recently used
    await cache.get('c', () => Promise.resolve(bytes(3)));
    expect(cache.stats()).toEqual({ entries: 2, bytes: 4, encodings: 3 });
    await cache.get('a', () => Promise.resolve(bytes(1)));
    expect(cache.stats().encodings).toBe(3); // a was kept
    await cache.get('b', () => Promise.resolve(bytes(2)));
    expect(cache.stats().encodings).toBe(4); // b was dropped
  });

  it('keeps to the byte bound, but always keeps the newest entry even when it alone is larger', async () => {
    const cache = new TrainSplitCache(8, 100);
    await cache.get('a', () => Promise.resolve(bytes(60)));
    await cache.get('b', () => Promise.resolve(bytes(30)));
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 90 });
    await cache.get('c', () => Promise.resolve(bytes(50)));
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 80 });
    await cache.get('huge', () => Promise.resolve(bytes(500)));
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 500 });
  });

  it('forgets a failed encoding so a later request retries', async () => {
    const cache = new TrainSplitCache();
    await expect(cache.get('k', () => Promise.reject(new Error('no data')))).rejects.toThrow('no data');
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.stats().entries).toBe(0);
    expect((await cache.get('k', () => Promise.resolve(bytes(3)))).bytes).toEqual(bytes(3));
    expect(cache.stats().encodings).toBe(2);
  });
});
