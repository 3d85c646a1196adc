import { describe, expect, it } from 'vitest';
import { lrAt, parseLrSchedule } from '../../../core/optim/lr-schedule.ts';
import { referenceLr, type ReferenceLrSchedule } from '../../support/float64-reference.ts';

/** The schedule ddp-equivalence.test.ts trains with: warmup 0.1 → 1 over 4 updates, then cosine to 0.1. */
const WARMUP_COSINE_CHAIN: ReferenceLrSchedule = {
  type: 'chain',
  stages: [
    { type: 'linear', start_factor: 0.1, end_factor: 1, updates: 4 },
    { type: 'cosine', end_factor: 0.1 },
  ],
};

describe('the float64 reference lr formula (tests/support) against hand-computed values', () => {
  it('chain warmup → cosine, base 0.01 over 12 updates', () => {
    const at = (u: number) => referenceLr(WARMUP_COSINE_CHAIN, 0.01, u, 12);
    expect(at(0)).toBeCloseTo(0.001, 15); // 0.1 × 0.01
    expect(at(1)).toBeCloseTo(0.00325, 15); // (0.1 + 0.9 × 1/4) × 0.01
    expect(at(4)).toBeCloseTo(0.01, 15); // cosine stage, local 0 of 8: factor 1
    expect(at(8)).toBeCloseTo(0.0055, 15); // local 4 of 8: 0.1 + 0.9 × (1 + cos(π/2)) / 2 = 0.55
    expect(at(10)).toBeCloseTo(0.0023180194846605, 15); // local 6 of 8: 0.1 + 0.9 × (1 − √2/2) / 2
    expect(at(12)).toBeCloseTo(0.001, 15); // past the end: held at end_factor
  });
  it('cosine over the run, constant, step, exponential', () => {
    expect(referenceLr({ type: 'cosine', end_factor: 0.1 }, 0.02, 5, 10)).toBeCloseTo(0.011, 15); // 0.02 × 0.55
    expect(referenceLr({ type: 'constant' }, 0.05, 7, 10)).toBe(0.05);
    expect(referenceLr({ type: 'step', step_size: 3, gamma: 0.5 }, 0.1, 7, 10)).toBeCloseTo(0.025, 15); // 0.1 × 0.5²
    expect(referenceLr({ type: 'exponential', gamma: 0.9 }, 0.1, 2, 10)).toBeCloseTo(0.081, 15);
  });
});

describe("core's lrAt equals the float64 reference", () => {
  const schedules: ReferenceLrSchedule[] = [
    WARMUP_COSINE_CHAIN,
    { type: 'cosine', end_factor: 0.1 },
    { type: 'constant' },
    { type: 'linear', start_factor: 1, end_factor: 0, updates: 30 },
    { type: 'step', step_size: 7, gamma: 0.3 },
    { type: 'exponential', gamma: 0.97 },
    {
      type: 'chain',
      stages: [
        { type: 'linear', start_factor: 0.001, end_factor: 1, updates: 10 },
        { type: 'cosine', end_factor: 0.01 },
        { type: 'linear', start_factor: 0.01, end_factor: 0, updates: 15 },
      ],
    },
  ];
  for (const schedule of schedules) {
    it(`${JSON.stringify(schedule)}: every update of a 100-update run within 1e-12 relative`, () => {
      const parsed = parseLrSchedule(schedule);
      for (let u = 0; u < 110; u++) {
        const expected = referenceLr(schedule, 0.1, u, 100);
        expect(Math.abs(lrAt(parsed, 0.1, u, 100) - expected)).toBeLessThanOrEqual(1e-12 * Math.max(expected, 1e-12));
      }
    });
  }
});
