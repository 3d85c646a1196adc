/**
 * Per-step timeline of a distributed training step, rebuilt from what the coordinator sent and
 * received (see coordinator-traffic-tap.ts) and when it applied each update. Pure, no I/O.
 */

/** One observed event of a step, with its time (ms, performance.now() of the coordinator process). */
export type TrafficRecord =
  | { kind: 'paramsOut'; t: number; version: number; bytes: number }
  | { kind: 'assignOut'; t: number; step: number; samples: number }
  | { kind: 'gradChunkIn'; t: number; step: number; bytes: number }
  | { kind: 'commitIn'; t: number; step: number; computeMs: number; sampleCount: number; loss: number }
  | { kind: 'applied'; t: number; step: number; trainLoss: number };

/** Where the time of one step went, as seen from the coordinator. */
export interface StepBreakdown {
  step: number;
  /** step:assign sent -> last grad:commit received: wire both ways + everything the worker did. */
  workerRoundTripMs: number;
  /** The worker's own time for batch gathering + forward/backward, as it reported in grad:commit. */
  workerComputeMs: number;
  /** workerRoundTripMs - workerComputeMs: params/gradient (de)serialisation, socket transfer, setParams. */
  transportMs: number;
  /** grad:commit received -> update applied: validation, DB write, reduce, clip, optimizer, metrics. */
  coordinatorApplyMs: number;
  /** update applied -> next step:assign sent (undefined for the last step seen). */
  nextAssignDelayMs: number | undefined;
  /** Parameter bytes sent for this step's params version (all workers). */
  bytesOut: number;
  /** Gradient bytes received for this step (all workers). */
  bytesIn: number;
  /** Mean train loss the coordinator recorded for the update. */
  trainLoss: number;
}

interface StepEvents {
  assignAt?: number;
  lastCommitAt?: number;
  computeMs: number;
  appliedAt?: number;
  trainLoss: number;
  bytesOut: number;
  bytesIn: number;
}

/**
 * Groups traffic records by step and derives each applied step's breakdown, in step order. With
 * several workers the round trip ends at the last commit and the compute time is the slowest
 * worker's. Steps without an assignment, a commit and an applied update are skipped (e.g. an
 * abandoned last round).
 * @example breakDownSteps(tap.records()).map((s) => s.transportMs);
 */
export function breakDownSteps(records: readonly TrafficRecord[]): StepBreakdown[] {
  const byStep = new Map<number, StepEvents>();
  const at = (step: number): StepEvents => {
    let e = byStep.get(step);
    if (!e) {
      e = { computeMs: 0, trainLoss: Number.NaN, bytesOut: 0, bytesIn: 0 };
      byStep.set(step, e);
    }
    return e;
  };
  for (const r of records) {
    switch (r.kind) {
      case 'paramsOut':
        at(r.version).bytesOut += r.bytes;
        break;
      case 'assignOut': {
        const e = at(r.step);
        e.assignAt = e.assignAt === undefined ? r.t : Math.min(e.assignAt, r.t);
        break;
      }
      case 'gradChunkIn':
        at(r.step).bytesIn += r.bytes;
        break;
      case 'commitIn': {
        const e = at(r.step);
        e.lastCommitAt = e.lastCommitAt === undefined ? r.t : Math.max(e.lastCommitAt, r.t);
        e.computeMs = Math.max(e.computeMs, r.computeMs);
        break;
      }
      case 'applied': {
        const e = at(r.step);
        e.appliedAt = r.t;
        e.trainLoss = r.trainLoss;
        break;
      }
      default: {
        const never: never = r;
        throw new Error(`unknown traffic record ${JSON.stringify(never)}`);
      }
    }
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const out: StepBreakdown[] = [];
  for (const step of steps) {
    const e = byStep.get(step)!;
    if (e.assignAt === undefined || e.lastCommitAt === undefined || e.appliedAt === undefined) continue;
    const roundTrip = e.lastCommitAt - e.assignAt;
    const nextAssign = byStep.get(step + 1)?.assignAt;
    out.push({
      step,
      workerRoundTripMs: roundTrip,
      workerComputeMs: e.computeMs,
      transportMs: roundTrip - e.computeMs,
      coordinatorApplyMs: e.appliedAt - e.lastCommitAt,
      nextAssignDelayMs: nextAssign === undefined ? undefined : nextAssign - e.appliedAt,
      bytesOut: e.bytesOut,
      bytesIn: e.bytesIn,
      trainLoss: e.trainLoss,
    });
  }
  return out;
}
