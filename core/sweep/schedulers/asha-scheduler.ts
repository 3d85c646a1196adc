import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import {
  asScore,
  parseSchedulerOptions,
  parseSchedulerState,
  percentile,
  type SchedulerContext,
  type SchedulerDecision,
  type TrialScheduler,
} from './trial-scheduler.ts';

/** Options of ASHA, in updates (Ray Tune's ASHAScheduler with one bracket). */
export const AshaSchedulerOptionsSchema = z.strictObject({
  /** The first rung: no trial is stopped before this many updates. */
  grace_period: z.number().int().positive().default(1),
  /** Rung k is at grace_period·reduction_factor^k; the top 1/reduction_factor of each rung continue. */
  reduction_factor: z.number().gt(1).max(1000).default(4),
  /** A trial stops at this many updates (default: the base run's total_updates). */
  max_t: z.number().int().positive().optional(),
});

/** ASHA's options as written. */
export type AshaSchedulerOptions = z.input<typeof AshaSchedulerOptionsSchema>;

const AshaStateSchema = z.strictObject({
  scheduler: z.literal('asha'),
  rungs: z.array(z.strictObject({ milestone: z.number().positive(), recorded: z.array(z.tuple([z.string(), z.number()])) })),
});

/**
 * The rung milestones grace·rf^k for k = 0, 1, ... while they do not exceed max_t, lowest first.
 * @example ashaRungs(1, 3, 9) // [1, 3, 9]
 */
export function ashaRungs(gracePeriod: number, reductionFactor: number, maxT: number): number[] {
  if (gracePeriod > maxT) throw new CrowdtrainError('INVALID_CONFIG', `scheduler.grace_period (${gracePeriod}) exceeds scheduler.max_t (${maxT})`);
  const out: number[] = [];
  // Multiply rather than take logs: log(1000)/log(10) is 2.9999999999999996, which would lose the rung at 1000.
  for (let m = gracePeriod; m <= maxT * (1 + 1e-12); m *= reductionFactor) out.push(Number(m.toPrecision(12)));
  return out;
}

/**
 * Asynchronous successive halving (Li et al. 2018), as Ray Tune's ASHAScheduler with one bracket:
 * rungs at grace_period·rf^k up to max_t. When a trial's step first reaches a rung it has no value
 * in (the highest such rung, checked from the top), its score is compared with the
 * (1 − 1/rf)·100th percentile (linear interpolation) of the scores already recorded there: below
 * it, the trial stops; either way its score is recorded in that rung. A rung with no recorded
 * score lets everyone through. A trial at max_t stops (it is done), after its score is recorded.
 * Scores are the metric under `max`, its negation under `min`.
 */
export class AshaScheduler implements TrialScheduler {
  readonly name = 'asha';
  private readonly rf: number;
  private readonly maxT: number;
  /** Highest milestone first, as Ray iterates them. */
  private rungs: { milestone: number; recorded: Map<string, number> }[];

  constructor(private readonly ctx: SchedulerContext, options: unknown = {}) {
    const o = parseSchedulerOptions(AshaSchedulerOptionsSchema, options, 'asha');
    this.rf = o.reduction_factor;
    this.maxT = o.max_t ?? ctx.maxSteps;
    this.rungs = ashaRungs(o.grace_period, o.reduction_factor, this.maxT)
      .reverse()
      .map((milestone) => ({ milestone, recorded: new Map() }));
  }

  /** The rung milestones, lowest first. */
  milestones(): number[] {
    return this.rungs.map((r) => r.milestone).reverse();
  }

  onTrialAdd(): void {}

  onResult(trialId: string, step: number, value: number): SchedulerDecision {
    if (!Number.isFinite(value)) return 'stop';
    const score = asScore(value, this.ctx.mode);
    let decision: SchedulerDecision = 'continue';
    for (const rung of this.rungs) {
      if (step < rung.milestone || rung.recorded.has(trialId)) continue;
      const cutoff = percentile([...rung.recorded.values()], (1 - 1 / this.rf) * 100);
      if (cutoff !== null && score < cutoff) decision = 'stop';
      rung.recorded.set(trialId, score);
      break;
    }
    return step >= this.maxT ? 'stop' : decision;
  }

  onTrialEnd(): void {}

  state(): z.infer<typeof AshaStateSchema> {
    return { scheduler: 'asha', rungs: this.rungs.map((r) => ({ milestone: r.milestone, recorded: [...r.recorded.entries()] })) };
  }

  load(raw: unknown): void {
    const state = parseSchedulerState(AshaStateSchema, raw, 'asha');
    const mine = this.rungs.map((r) => r.milestone);
    const saved = state.rungs.map((r) => r.milestone);
    if (mine.join(',') !== saved.join(',')) {
      throw new CrowdtrainError('INVALID_CONFIG', `asha state has rungs ${saved.join(', ')}, the config gives ${mine.join(', ')}`);
    }
    this.rungs = state.rungs.map((r) => ({ milestone: r.milestone, recorded: new Map(r.recorded) }));
  }
}
