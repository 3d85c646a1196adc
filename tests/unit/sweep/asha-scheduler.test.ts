import { describe, expect, it } from 'vitest';
import { AshaScheduler, ashaRungs } from '../../../core/sweep/schedulers/asha-scheduler.ts';
import { percentile } from '../../../core/sweep/schedulers/trial-scheduler.ts';
import type { SchedulerContext, SchedulerDecision } from '../../../core/sweep/schedulers/index.ts';

const ctx = (mode: 'min' | 'max'): SchedulerContext => ({ space: {}, seed: 0, mode, maxSteps: 1000 });

/**
 * Runs trials one after another (max_concurrent 1), each reporting at every step until the
 * scheduler stops it; returns the step at which each was stopped.
 */
function sequential(asha: AshaScheduler, losses: Record<string, (step: number) => number>, maxT: number): Record<string, number> {
  const stoppedAt: Record<string, number> = {};
  for (const [id, loss] of Object.entries(losses)) {
    for (let step = 1; step <= maxT; step++) {
      if (asha.onResult(id, step, loss(step)) === 'stop') {
        stoppedAt[id] = step;
        break;
      }
    }
  }
  return stoppedAt;
}

/** Loss p for steps 1-2, q from step 3 on. */
const piecewise = (p: number, q: number) => (step: number) => (step < 3 ? p : q);

describe('ASHA scheduler', () => {
  it('places rungs at grace·rf^k up to max_t (also where floating logs would drop one)', () => {
    expect(ashaRungs(1, 3, 9)).toEqual([1, 3, 9]);
    expect(ashaRungs(1, 10, 1000)).toEqual([1, 10, 100, 1000]);
    expect(ashaRungs(5, 2, 50)).toEqual([5, 10, 20, 40]);
    expect(() => ashaRungs(10, 2, 5)).toThrow(/grace_period \(10\) exceeds scheduler\.max_t \(5\)/);
  });

  it('percentile interpolates linearly as numpy does', () => {
    expect(percentile([-0.5, -0.6, -0.7], (1 - 1 / 3) * 100)).toBeCloseTo(-0.5666667, 6);
    expect(percentile([], 50)).toBeNull();
  });

  it('stops the bad trials at exactly the rungs of a hand-computed schedule (rf 3, rungs 1, 3, 9; sequential)', () => {
    const asha = new AshaScheduler(ctx('min'), { grace_period: 1, reduction_factor: 3, max_t: 9 });
    expect(asha.milestones()).toEqual([1, 3, 9]);
    // Hand-computed (scores are -loss; cutoff = 66.7th percentile of the scores already in the rung):
    // T1 rung1 {} → on; rung3 {} → on; step 9 = max_t → done.
    // T2 rung1 {-.5}: cutoff -.5, -.6 below → stop at 1.
    // T3 rung1 {-.5,-.6}: cutoff -.5333, -.7 below → stop at 1.
    // T4 rung1 {-.5,-.6,-.7}: cutoff -.5667, -.45 passes; rung3 {-.4}: cutoff -.4, -.35 passes; done at 9.
    // T5 rung1 {-.5,-.6,-.7,-.45}: cutoff -.5, -.48 passes; rung3 {-.4,-.35}: cutoff -.3667, -.5 below → stop at 3.
    // T6 rung1 cutoff -.4867, -.4 passes; rung3 {-.4,-.35,-.5}: cutoff -.3833, -.1 passes; done at 9.
    // T7 rung1 sorted {-.7,-.6,-.5,-.48,-.45,-.4}: rank 3.333, cutoff -.47, -.475 below → stop at 1
    //    (a median cutoff, -.49, would have let it through: the percentile is (1 - 1/rf), not 50).
    const losses = {
      T1: piecewise(0.5, 0.4),
      T2: piecewise(0.6, 0.3),
      T3: piecewise(0.7, 0.2),
      T4: piecewise(0.45, 0.35),
      T5: piecewise(0.48, 0.5),
      T6: piecewise(0.4, 0.1),
      T7: piecewise(0.475, 0.05),
    };
    expect(sequential(asha, losses, 9)).toEqual({ T1: 9, T2: 1, T3: 1, T4: 9, T5: 3, T6: 9, T7: 1 });
    // Every result is recorded, stopped trials included; a trial that stopped at rung 1 has no value at rung 3.
    const rungs = asha.state().rungs;
    expect(rungs.map((r) => [r.milestone, r.recorded.map(([id]) => id)])).toEqual([
      [9, ['T1', 'T4', 'T6']],
      [3, ['T1', 'T4', 'T5', 'T6']],
      [1, ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7']],
    ]);
  });

  it('is asynchronous: with trials in flight together, each is judged against the rung as it stands (rf 2, mode max)', () => {
    const asha = new AshaScheduler(ctx('max'), { grace_period: 1, reduction_factor: 2, max_t: 4 });
    const acc: Record<string, number[]> = { A: [0.5, 0.6, 0.6, 0.7], B: [0.4, 0.7, 0.7, 0.8], C: [0.6, 0.5, 0.5, 0.5], D: [0.3, 0.9, 0.9, 0.9] };
    const alive = new Set(Object.keys(acc));
    const stoppedAt: Record<string, number> = {};
    for (let step = 1; step <= 4; step++) {
      for (const id of Object.keys(acc)) {
        if (!alive.has(id)) continue;
        if (asha.onResult(id, step, acc[id]![step - 1]!) === 'stop') {
          alive.delete(id);
          stoppedAt[id] = step;
        }
      }
    }
    // Hand-computed: step 1: A first (on), B .4 < median{.5} (stop), C .6 >= .45 (on), D .3 < .5 (stop);
    // step 2: A first at rung 2 (on), C .5 < .6 (stop); A reaches max_t at 4.
    // B would have been the best trial later: ASHA judges on what it sees at the rung.
    expect(stoppedAt).toEqual({ A: 4, B: 1, C: 2, D: 1 });
  });

  it('a trial jumping past several rungs in one result is judged at the highest one only', () => {
    const asha = new AshaScheduler(ctx('min'), { grace_period: 1, reduction_factor: 2, max_t: 8 });
    expect(asha.onResult('a', 4, 1)).toBe('continue');
    expect(asha.state().rungs.map((r) => [r.milestone, r.recorded.length])).toEqual([
      [8, 0],
      [4, 1],
      [2, 0],
      [1, 0],
    ]);
  });

  it('a score equal to the cutoff continues (strictly below stops, as in Ray)', () => {
    const asha = new AshaScheduler(ctx('max'), { grace_period: 1, reduction_factor: 2, max_t: 8 });
    expect(asha.onResult('a', 1, 0.7)).toBe('continue');
    expect(asha.onResult('b', 1, 0.7)).toBe('continue');
    expect(asha.onResult('c', 1, 0.69)).toBe('stop');
  });

  it('stops a diverged (non-finite) trial', () => {
    const asha = new AshaScheduler(ctx('min'), { max_t: 10 });
    expect(asha.onResult('a', 1, Number.NaN)).toBe('stop');
  });

  it('after a crash, load(state()) makes the same decisions', () => {
    const losses = { T1: piecewise(0.5, 0.4), T2: piecewise(0.6, 0.3), T3: piecewise(0.7, 0.2), T4: piecewise(0.45, 0.35), T5: piecewise(0.48, 0.5), T6: piecewise(0.4, 0.1) };
    const first = Object.fromEntries(Object.entries(losses).slice(0, 3));
    const rest = Object.fromEntries(Object.entries(losses).slice(3));
    const options = { grace_period: 1, reduction_factor: 3, max_t: 9 };
    const before = new AshaScheduler(ctx('min'), options);
    sequential(before, first, 9);
    const restored = new AshaScheduler(ctx('min'), options);
    restored.load(JSON.parse(JSON.stringify(before.state())));
    expect(sequential(restored, rest, 9)).toEqual({ T4: 9, T5: 3, T6: 9 });
    expect(() => new AshaScheduler(ctx('min'), { ...options, reduction_factor: 2 }).load(before.state())).toThrow(/asha state has rungs 9, 3, 1, the config gives 8, 4, 2, 1/);
    expect(() => restored.load({ scheduler: 'asha', rungs: [{ milestone: 9, recorded: [['x', 'y']] }] })).toThrow(/invalid asha scheduler state: rungs\.0\.recorded\.0\.1/);
  });

  it('never says anything but continue or stop', () => {
    const asha = new AshaScheduler(ctx('min'), { max_t: 16 });
    const seen = new Set<SchedulerDecision>();
    for (let t = 0; t < 10; t++) for (let s = 1; s <= 16; s++) seen.add(asha.onResult(`t${t}`, s, (t * 7919) % 13));
    expect([...seen].every((d) => d === 'continue' || d === 'stop')).toBe(true);
  });
});
