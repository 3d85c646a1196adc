import { describe, expect, it } from 'vitest';
import { timeStoreCalls } from '../../../bench/support/store-call-timer.ts';
import type { TrackingStore } from '../../../prisma/queries/tracking-store.ts';

/** A stand-in with the shape the timer works on: methods on a prototype, some async. */
class CountingStore {
  writes = 0;
  async addContribution(n: number): Promise<number> {
    await Promise.resolve();
    this.writes += n;
    return this.writes;
  }
  syncLookup(): string {
    return `writes=${this.writes}`;
  }
  async failingWrite(): Promise<void> {
    await Promise.resolve();
    throw new Error('disk full');
  }
}

describe('timeStoreCalls', () => {
  it('counts and times calls only between start() and stop(), and passes results and errors through', async () => {
    let clock = 0;
    const store = new CountingStore();
    const timer = timeStoreCalls(store as unknown as TrackingStore, () => (clock += 5));
    await store.addContribution(1); // before start(): not counted
    timer.start();
    expect(await store.addContribution(2)).toBe(3);
    expect(await store.addContribution(3)).toBe(6);
    expect(store.syncLookup()).toBe('writes=6');
    await expect(store.failingWrite()).rejects.toThrow('disk full');
    const times = timer.stop();
    await store.addContribution(1); // after stop(): not counted
    expect(times).toEqual({
      addContribution: { calls: 2, totalMs: 10 },
      syncLookup: { calls: 1, totalMs: 5 },
      failingWrite: { calls: 1, totalMs: 5 },
    });
    expect(store.writes).toBe(7);
  });

  it('restore() puts the original methods back', () => {
    const store = new CountingStore();
    const timer = timeStoreCalls(store as unknown as TrackingStore);
    expect(Object.hasOwn(store, 'syncLookup')).toBe(true);
    timer.restore();
    expect(Object.hasOwn(store, 'syncLookup')).toBe(false);
    expect(Object.hasOwn(store, 'addContribution')).toBe(false);
    expect(store.syncLookup()).toBe('writes=0');
  });
});
