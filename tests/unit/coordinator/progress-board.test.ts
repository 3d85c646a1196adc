import { describe, expect, it } from 'vitest';
import { ProgressBoard, formatProgress } from '../../../coordinator/progress-board.ts';
import type { RunProgress } from '../../../coordinator/run/run-session.ts';

function progress(over: Partial<RunProgress>): RunProgress {
  return {
    runId: 'r1',
    name: 'a',
    status: 'running',
    step: 3,
    totalUpdates: 10,
    epoch: 0,
    trainLoss: 0.5123,
    evalLoss: null,
    evalAccuracy: null,
    bestAccuracy: null,
    lr: 0.01,
    samplesPerSec: 120,
    activeWorkers: 2,
    startedAt: '2026-12-02T00:00:00.000Z',
    ...over,
  } as RunProgress;
}

describe('ProgressBoard', () => {
  it('one run: its full line', () => {
    const b = new ProgressBoard();
    b.update(progress({}));
    expect(b.line()).toBe(formatProgress(progress({})));
    expect(b.line()).toBe('step 3/10 (30%) epoch 0 loss 0.5123 acc - lr 1.00e-2 120 samples/s workers 2');
  });

  it('several runs: one line naming each, in the order they reported, updated in place; ended runs leave', () => {
    const b = new ProgressBoard();
    b.update(progress({}));
    b.update(progress({ runId: 'r2', name: 'b', step: 1, trainLoss: null, activeWorkers: 1 }));
    b.update(progress({ step: 4 }));
    expect(b.line()).toBe('2 runs: a 4/10 (40%) loss 0.512 w2 | b 1/10 (10%) loss - w1');
    b.update(progress({ status: 'finished', step: 10 }));
    expect(b.size).toBe(1);
    expect(b.line()).toBe(formatProgress(progress({ runId: 'r2', name: 'b', step: 1, trainLoss: null, activeWorkers: 1 })));
  });

  it('cuts the line to the terminal width (a wrapped line cannot be overwritten)', () => {
    const b = new ProgressBoard();
    for (let i = 0; i < 5; i++) b.update(progress({ runId: `r${i}`, name: `trial-${i}` }));
    const line = b.line(40);
    expect(line).toHaveLength(40);
    expect(line.endsWith('…')).toBe(true);
    expect(line.startsWith('5 runs: trial-0 3/10')).toBe(true);
  });
});
