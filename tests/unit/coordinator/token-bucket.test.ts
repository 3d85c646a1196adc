import { describe, expect, it } from 'vitest';
import { CHUNK_MESSAGE_FLOOR_BYTES, MESSAGE_BUDGETS, OVER_BUDGET_ALLOWANCE, SocketRateLimiter, TokenBucket, chunkCost } from '../../../coordinator/fleet/token-bucket.ts';

function fakeClock() {
  let now = 0;
  return { clock: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('starts full, spends, refuses when empty, refills with time up to capacity', () => {
    const c = fakeClock();
    const b = new TokenBucket({ capacity: 3, refillPerSec: 2 }, c.clock);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    c.advance(500);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    c.advance(60_000);
    expect(b.available).toBe(3);
  });

  it('charges costs; a cost above capacity passes only with a full bucket', () => {
    const c = fakeClock();
    const b = new TokenBucket({ capacity: 100, refillPerSec: 10 }, c.clock);
    expect(b.take(1000)).toBe(true);
    expect(b.available).toBe(0);
    c.advance(1000);
    expect(b.take(20)).toBe(false);
    expect(b.take(10)).toBe(true);
  });

  it('rejects an invalid spec', () => {
    expect(() => new TokenBucket({ capacity: 0, refillPerSec: 1 })).toThrow(RangeError);
  });
});

describe('SocketRateLimiter', () => {
  it('drops a flood of step:decline, notices at a limited rate, then says disconnect', () => {
    const c = fakeClock();
    const l = new SocketRateLimiter(MESSAGE_BUDGETS, c.clock);
    const results = Array.from({ length: 4000 }, () => l.admit('step:decline'));
    const admitted = results.filter((r) => r.ok).length;
    expect(admitted).toBe(MESSAGE_BUDGETS['step:decline'].capacity);
    const drops = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok);
    expect(drops.filter((d) => d.notify)).toHaveLength(5);
    const firstDisconnect = drops.findIndex((d) => d.disconnect);
    expect(firstDisconnect).toBe(OVER_BUDGET_ALLOWANCE.capacity);
  });

  it('keeps kinds apart and lets 1 MB chunks of a real gradient through at 100 chunks/s', () => {
    const c = fakeClock();
    const l = new SocketRateLimiter(MESSAGE_BUDGETS, c.clock);
    const chunk = { bytes: new Uint8Array(1 << 20) };
    expect(chunkCost(chunk)).toBe((1 << 20) + CHUNK_MESSAGE_FLOOR_BYTES);
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 100; i++) expect(l.admit('grad:chunk', chunkCost(chunk)).ok).toBe(true);
      expect(l.admit('grad:commit').ok).toBe(true);
      c.advance(1000);
    }
    expect(l.dropped).toBe(0);
  });

  it('a drop allowance refills: a socket briefly over budget is not disconnected', () => {
    const c = fakeClock();
    const l = new SocketRateLimiter(MESSAGE_BUDGETS, c.clock);
    for (let i = 0; i < 25; i++) l.admit('worker:hello');
    c.advance(10_000);
    for (let i = 0; i < 25; i++) expect(l.admit('worker:hello')).not.toMatchObject({ disconnect: true });
  });
});
