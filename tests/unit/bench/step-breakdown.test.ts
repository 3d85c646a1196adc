import { describe, expect, it } from 'vitest';
import { breakDownSteps, type TrafficRecord } from '../../../bench/support/step-breakdown.ts';

/** One worker, two complete steps and an abandoned third (assigned, never committed). */
const trace: TrafficRecord[] = [
  { kind: 'paramsOut', t: 0, version: 0, bytes: 1000 },
  { kind: 'assignOut', t: 1, step: 0, samples: 256 },
  { kind: 'gradChunkIn', t: 105, step: 0, bytes: 1000 },
  { kind: 'commitIn', t: 106, step: 0, computeMs: 100, sampleCount: 256, loss: 2.3 },
  { kind: 'applied', t: 109, step: 0, trainLoss: 2.3 },
  { kind: 'paramsOut', t: 109.5, version: 1, bytes: 1000 },
  { kind: 'assignOut', t: 110, step: 1, samples: 256 },
  { kind: 'gradChunkIn', t: 220, step: 1, bytes: 1000 },
  { kind: 'commitIn', t: 221, step: 1, computeMs: 105, sampleCount: 256, loss: 2.1 },
  { kind: 'applied', t: 223, step: 1, trainLoss: 2.1 },
  { kind: 'paramsOut', t: 223.5, version: 2, bytes: 1000 },
  { kind: 'assignOut', t: 224, step: 2, samples: 256 },
];

describe('breakDownSteps', () => {
  it('splits each applied step into worker compute, transport, coordinator apply and the gap to the next assignment', () => {
    const steps = breakDownSteps(trace);
    expect(steps.map((s) => s.step)).toEqual([0, 1]);
    const [first, second] = steps;
    expect(first).toEqual({
      step: 0,
      workerRoundTripMs: 105,
      workerComputeMs: 100,
      transportMs: 5,
      coordinatorApplyMs: 3,
      nextAssignDelayMs: 1,
      bytesOut: 1000,
      bytesIn: 1000,
      trainLoss: 2.3,
    });
    expect(second?.transportMs).toBe(6);
    expect(second?.coordinatorApplyMs).toBe(2);
    expect(second?.nextAssignDelayMs).toBe(1);
  });

  it('leaves the next-assignment gap undefined for the last step seen', () => {
    const steps = breakDownSteps(trace.slice(0, 5));
    expect(steps).toHaveLength(1);
    expect(steps[0]?.nextAssignDelayMs).toBeUndefined();
  });

  it('with several workers: the round ends at the last commit, compute is the slowest worker, bytes add up', () => {
    const two: TrafficRecord[] = [
      { kind: 'paramsOut', t: 0, version: 0, bytes: 500 },
      { kind: 'paramsOut', t: 0, version: 0, bytes: 500 },
      { kind: 'assignOut', t: 1, step: 0, samples: 128 },
      { kind: 'assignOut', t: 2, step: 0, samples: 128 },
      { kind: 'gradChunkIn', t: 50, step: 0, bytes: 500 },
      { kind: 'commitIn', t: 51, step: 0, computeMs: 45, sampleCount: 128, loss: 1 },
      { kind: 'gradChunkIn', t: 70, step: 0, bytes: 500 },
      { kind: 'commitIn', t: 71, step: 0, computeMs: 60, sampleCount: 128, loss: 1 },
      { kind: 'applied', t: 75, step: 0, trainLoss: 1 },
    ];
    const [s] = breakDownSteps(two);
    expect(s).toMatchObject({ workerRoundTripMs: 70, workerComputeMs: 60, transportMs: 10, coordinatorApplyMs: 4, bytesOut: 1000, bytesIn: 1000 });
  });

  it('returns nothing for traffic without an applied update', () => {
    expect(breakDownSteps(trace.slice(0, 4))).toEqual([]);
    expect(breakDownSteps([])).toEqual([]);
  });
});
