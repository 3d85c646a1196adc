import { describe, expect, it } from 'vitest';
import { MedianStoppingScheduler } from '../../../core/sweep/schedulers/median-stopping-scheduler.ts';
import { FifoScheduler } from '../../../core/sweep/schedulers/fifo-scheduler.ts';

const ctx = { space: {}, seed: 0, mode: 'min' as const, maxSteps: 100 };

function runTrial(s: MedianStoppingScheduler, id: string, losses: number[]): number | null {
  for (let i = 0; i < losses.length; i++) if (s.onResult(id, i + 1, losses[i]!) === 'stop') return i + 1;
  return null;
}

describe('median stopping rule', () => {
  it('stops a trial whose best is below the median of the others’ running means (hand-computed)', () => {
    const s = new MedianStoppingScheduler(ctx, { grace_period: 2, min_samples: 2 });
    // A and B have too few others to compare with: never stopped.
    expect(runTrial(s, 'A', [1.0, 0.8, 0.6, 0.4])).toBeNull();
    expect(runTrial(s, 'B', [1.2, 1.0, 0.9, 0.8])).toBeNull();
    // C at step 2: means A -0.9, B -1.1, median -1.0; C's best -1.5 is below → stop at 2.
    expect(runTrial(s, 'C', [2.0, 1.5, 0.5, 0.1])).toBe(2);
    // D at 2: means A -0.9, B -1.1, C -1.75 (its last step is 2), median -1.1; best -1.0 → on.
    // D at 3: C has no result at 3; means A -0.8, B -1.0333, median -0.9167; best -0.95 → stop at 3.
    expect(runTrial(s, 'D', [1.0, 1.05, 0.95, 0.1])).toBe(3);
  });

  it('does not stop within the grace period, nor with fewer than min_samples others', () => {
    const s = new MedianStoppingScheduler(ctx, { grace_period: 3, min_samples: 1 });
    runTrial(s, 'good', [0.1, 0.1, 0.1, 0.1]);
    expect(runTrial(s, 'bad', [9, 9, 9, 9])).toBe(3);
    const strict = new MedianStoppingScheduler(ctx, { grace_period: 1, min_samples: 3 });
    runTrial(strict, 'g1', [0.1, 0.1]);
    runTrial(strict, 'g2', [0.1, 0.1]);
    expect(runTrial(strict, 'bad', [9, 9])).toBeNull();
  });

  it('resumes from state() with the same decisions', () => {
    const a = new MedianStoppingScheduler(ctx, { grace_period: 2, min_samples: 2 });
    runTrial(a, 'A', [1.0, 0.8, 0.6, 0.4]);
    runTrial(a, 'B', [1.2, 1.0, 0.9, 0.8]);
    const b = new MedianStoppingScheduler(ctx, { grace_period: 2, min_samples: 2 });
    b.load(JSON.parse(JSON.stringify(a.state())));
    expect(runTrial(b, 'C', [2.0, 1.5, 0.5, 0.1])).toBe(2);
    expect(() => b.load({ scheduler: 'median', results: 'x' })).toThrow(/invalid median scheduler state: results/);
  });
});

describe('fifo', () => {
  it('continues every finite result and keeps no state', () => {
    const f = new FifoScheduler();
    expect(f.onResult('a', 1, 1e9)).toBe('continue');
    expect(f.onResult('a', 2, Number.POSITIVE_INFINITY)).toBe('stop');
    expect(() => f.load({ scheduler: 'asha' })).toThrow(/invalid fifo scheduler state/);
  });
});
