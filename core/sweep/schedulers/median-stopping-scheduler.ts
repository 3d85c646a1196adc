import { z } from 'zod';
import {
  asScore,
  median,
  parseSchedulerOptions,
  parseSchedulerState,
  type SchedulerContext,
  type SchedulerDecision,
  type TrialScheduler,
} from './trial-scheduler.ts';

/** Options of the median stopping rule, in updates. */
export const MedianSchedulerOptionsSchema = z.strictObject({
  /** No trial is stopped before this many updates. */
  grace_period: z.number().int().nonnegative().default(1),
  /** The rule applies only when at least this many other trials have reached the step. */
  min_samples: z.number().int().positive().max(10_000).default(3),
});

const MedianStateSchema = z.strictObject({
  scheduler: z.literal('median'),
  results: z.array(z.tuple([z.string(), z.array(z.tuple([z.number(), z.number()]))])),
});

/**
 * The median stopping rule (Golovin et al. 2017, Google Vizier; Ray Tune's MedianStoppingRule):
 * at step t ≥ grace_period, take the other trials whose last result is at step ≥ t (at least
 * `min_samples` of them, finished ones included), each one's mean score over its results at steps
 * ≤ t, and their median; the trial stops if its best score so far is below that median.
 */
export class MedianStoppingScheduler implements TrialScheduler {
  readonly name = 'median';
  private readonly options: z.infer<typeof MedianSchedulerOptionsSchema>;
  /** Per trial, its (step, score) results in order. */
  private results = new Map<string, [number, number][]>();

  constructor(private readonly ctx: SchedulerContext, options: unknown = {}) {
    this.options = parseSchedulerOptions(MedianSchedulerOptionsSchema, options, 'median');
  }

  onTrialAdd(): void {}

  onResult(trialId: string, step: number, value: number): SchedulerDecision {
    if (!Number.isFinite(value)) return 'stop';
    const mine = this.results.get(trialId) ?? [];
    mine.push([step, asScore(value, this.ctx.mode)]);
    this.results.set(trialId, mine);
    if (step < this.options.grace_period) return 'continue';
    const runningMeans: number[] = [];
    for (const [id, results] of this.results) {
      if (id === trialId || results.length === 0 || results[results.length - 1]![0] < step) continue;
      const upTo = results.filter(([s]) => s <= step).map(([, v]) => v);
      if (upTo.length > 0) runningMeans.push(upTo.reduce((a, b) => a + b, 0) / upTo.length);
    }
    if (runningMeans.length < this.options.min_samples) return 'continue';
    const best = Math.max(...mine.map(([, v]) => v));
    return best < median(runningMeans)! ? 'stop' : 'continue';
  }

  onTrialEnd(): void {}

  state(): z.infer<typeof MedianStateSchema> {
    return { scheduler: 'median', results: [...this.results.entries()].map(([id, r]) => [id, r.map(([s, v]) => [s, v] as [number, number])]) };
  }

  load(raw: unknown): void {
    const state = parseSchedulerState(MedianStateSchema, raw, 'median');
    this.results = new Map(state.results.map(([id, r]) => [id, r.map(([s, v]) => [s, v] as [number, number])]));
  }
}
