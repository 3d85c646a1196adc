import { describe, expect, it } from 'vitest';
import { DdpRunMachine, type RunEffect } from '../../../../core/run/ddp/ddp-run-machine.ts';

type Assign = Extract<RunEffect, { type: 'assign' }>;
const assignOf = (fx: RunEffect[]) => fx.find((e): e is Assign => e.type === 'assign');

describe('DdpRunMachine and a worker whose results are refused', () => {
  it('shrinks its share round by round and never hands it an epoch’s last samples alone (the run does not fail on it)', () => {
    // 50 samples, a global batch of 48: every epoch ends with a 2-sample round, smaller than the fleet of 3.
    const m = new DdpRunMachine({ seed: 1, datasetSize: 50, batchSizePerWorker: 16, globalBatchSize: 48, totalUpdates: 40, minWorkers: 3, evalEvery: 1000, checkpointEvery: 1000, maxFailedRounds: 5 });
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'rogue' });
    m.dispatch({ type: 'workerReady', workerId: 'h1' });
    let round = assignOf(m.dispatch({ type: 'workerReady', workerId: 'h2' }));
    const rogueShares: number[] = [];
    let finished: RunEffect | undefined;
    for (let guard = 0; round && guard < 200; guard++) {
      const r: Assign = round;
      round = undefined;
      rogueShares.push(r.assignments.find((a) => a.workerId === 'rogue')?.indices.length ?? 0);
      const fx: RunEffect[] = [];
      for (const a of r.assignments) {
        // The rogue answers first and fastest (its first result passes), then only with refused ones.
        if (a.workerId === 'rogue' && r.step > 0) fx.push(...m.dispatch({ type: 'resultRejected', workerId: 'rogue', step: r.step, code: 'NORM_TOO_LARGE', reason: 'too long' }));
        else fx.push(...m.dispatch({ type: 'resultAccepted', workerId: a.workerId, step: r.step, sampleCount: a.indices.length, loss: 1, accuracy: 0, elapsedMs: a.workerId === 'rogue' ? 5 : 100 }));
      }
      finished = fx.find((e) => e.type === 'finished');
      if (finished) break;
      round = assignOf(fx);
      if (!round && fx.some((e) => e.type === 'applyUpdate')) {
        const next = m.dispatch({ type: 'updateApplied', step: r.step });
        finished = next.find((e) => e.type === 'finished');
        round = assignOf(next);
      }
    }
    expect(finished, JSON.stringify(rogueShares)).toMatchObject({ type: "finished", status: "finished" });
    expect(m.step).toBe(40);
    // Its share halves with each refused result, to nothing (a spare) within a few rounds.
    expect(rogueShares[1]).toBeGreaterThan(rogueShares.at(-1)!);
    expect(rogueShares.slice(-10).every((n) => n === 0)).toBe(true);
  });
});
