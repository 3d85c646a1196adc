import { describe, it, expect } from 'vitest';
import { lrAt, parseLrSchedule } from '../../../core/optim/lr-schedule.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

const at = (input: unknown, update: number, total = 1000, base = 0.1) => lrAt(parseLrSchedule(input), base, update, total);

describe('single schedules', () => {
  it('constant', () => {
    expect(at({ type: 'constant' }, 0)).toBe(0.1);
    expect(at({ type: 'constant' }, 999)).toBe(0.1);
  });
  it('linear interpolates over updates, then holds', () => {
    const s = { type: 'linear', start_factor: 0.5, end_factor: 1, updates: 10 };
    expect(at(s, 0)).toBe(0.05);
    expect(at(s, 5)).toBeCloseTo(0.075, 15);
    expect(at(s, 10)).toBe(0.1);
    expect(at(s, 500)).toBe(0.1);
  });
  it('cosine from 1 to end_factor over the whole run by default', () => {
    const s = { type: 'cosine', end_factor: 0.1 };
    expect(at(s, 0)).toBe(0.1);
    expect(at(s, 500)).toBeCloseTo(0.1 * (0.1 + 0.9 * 0.5), 15);
    expect(at(s, 1000)).toBeCloseTo(0.01, 15);
    expect(at(s, 5000)).toBeCloseTo(0.01, 15);
    expect(at({ type: 'cosine' }, 1000)).toBe(0);
  });
  it('cosine with explicit updates', () => {
    expect(at({ type: 'cosine', updates: 100 }, 50)).toBeCloseTo(0.05, 15);
    expect(at({ type: 'cosine', updates: 100 }, 100)).toBe(0);
  });
  it('step decays by gamma every step_size updates', () => {
    const s = { type: 'step', step_size: 30, gamma: 0.1 };
    expect(at(s, 29)).toBe(0.1);
    expect(at(s, 30)).toBeCloseTo(0.01, 15);
    expect(at(s, 60)).toBeCloseTo(0.001, 15);
  });
  it('exponential', () => {
    expect(at({ type: 'exponential', gamma: 0.5 }, 0)).toBe(0.1);
    expect(at({ type: 'exponential', gamma: 0.5 }, 3)).toBe(0.0125);
  });
});

describe('chain', () => {
  // warmup 0.001 -> 1 over 5000, cosine to 0.01 over the rest, cooldown 0.01 -> 0 over the last 1000.
  const chain = {
    type: 'chain',
    stages: [
      { type: 'linear', start_factor: 0.001, end_factor: 1, updates: 5000 },
      { type: 'cosine', end_factor: 0.01 },
      { type: 'linear', start_factor: 0.01, end_factor: 0, updates: 1000 },
    ],
  };
  const total = 20000; // cosine gets 20000 - 5000 - 1000 = 14000
  const f = (u: number) => at(chain, u, total, 1);
  it('warmup stage', () => {
    expect(f(0)).toBe(0.001);
    expect(f(2500)).toBeCloseTo(0.001 + 0.999 * 0.5, 15);
    expect(f(4999)).toBeCloseTo(0.001 + (0.999 * 4999) / 5000, 15);
  });
  it('cosine stage takes the rest and starts at factor 1', () => {
    expect(f(5000)).toBe(1);
    expect(f(5000 + 7000)).toBeCloseTo(0.01 + 0.99 * 0.5, 12);
    expect(f(5000 + 13999)).toBeGreaterThan(0.01);
  });
  it('cooldown stage counts from its own start with absolute factors', () => {
    expect(f(19000)).toBe(0.01);
    expect(f(19500)).toBeCloseTo(0.005, 15);
    expect(f(19999)).toBeCloseTo(0.01 / 1000, 15);
    expect(f(20000)).toBe(0);
    expect(f(30000)).toBe(0);
  });
  it('the last stage continues past the end when every stage has updates', () => {
    const s = { type: 'chain', stages: [{ type: 'constant', updates: 10 }, { type: 'exponential', gamma: 0.5, updates: 2 }] };
    expect(at(s, 9, 100, 1)).toBe(1);
    expect(at(s, 10, 100, 1)).toBe(1);
    expect(at(s, 11, 100, 1)).toBe(0.5);
    expect(at(s, 14, 100, 1)).toBe(0.0625);
  });
  it('refuses a rest stage when the fixed stages overrun the total', () => {
    expect(() => at(chain, 0, 5500, 1)).toThrow(/take 6000 updates, more than total_updates 5500/);
  });
});

describe('warmup_cosine', () => {
  const s = { type: 'warmup_cosine', warmup_updates: 100, end_factor: 0.1 };
  it('warms up linearly from 0 then follows a cosine over the rest', () => {
    expect(at(s, 0, 1100, 1)).toBe(0);
    expect(at(s, 50, 1100, 1)).toBe(0.5);
    expect(at(s, 100, 1100, 1)).toBe(1);
    expect(at(s, 600, 1100, 1)).toBeCloseTo(0.55, 12);
    expect(at(s, 1100, 1100, 1)).toBeCloseTo(0.1, 15);
  });
  it('zero warmup is a plain cosine', () => {
    expect(at({ type: 'warmup_cosine', warmup_updates: 0 }, 0, 10, 1)).toBe(1);
    expect(at({ type: 'warmup_cosine', warmup_updates: 0 }, 10, 10, 1)).toBe(0);
  });
});

describe('validation', () => {
  const message = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(CrowdtrainError);
      expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
      return (err as Error).message;
    }
    throw new Error('expected a throw');
  };
  it('names the offending field', () => {
    expect(message(() => parseLrSchedule({ type: 'linear', start_factor: 0.1, end_factor: 1 }))).toMatch(/updates/);
    expect(message(() => parseLrSchedule({ type: 'step', step_size: 0, gamma: 0.1 }))).toMatch(/step_size/);
    expect(message(() => parseLrSchedule({ type: 'exponential', gamma: -1 }))).toMatch(/gamma/);
    expect(message(() => parseLrSchedule({ type: 'cosine', end_factor: 0.1, warmup: 3 }))).toMatch(/warmup/);
    expect(message(() => parseLrSchedule({ type: 'chain', stages: [{ type: 'cosine' }, { type: 'cosine' }] }))).toMatch(
      /stages\.1\.updates: only one stage may omit updates/,
    );
    expect(
      message(() => parseLrSchedule({ type: 'chain', stages: [{ type: 'linear', start_factor: 'a', end_factor: 1, updates: 3 }] })),
    ).toMatch(/stages\.0\.start_factor/);
  });
  it('refuses bad update indices', () => {
    expect(message(() => lrAt({ type: 'constant' }, 0.1, -1, 10))).toMatch(/update is -1/);
    expect(message(() => lrAt({ type: 'constant' }, 0.1, 1.5, 10))).toMatch(/update is 1.5/);
    expect(message(() => lrAt({ type: 'constant' }, 0.1, 1, 0))).toMatch(/total_updates is 0/);
  });
});
