import { z } from 'zod';

/** Whether a sweep minimises or maximises its metric. */
export const SweepModeSchema = z.enum(['min', 'max']);
/** A sweep's optimisation direction. */
export type SweepMode = z.infer<typeof SweepModeSchema>;

/**
 * One sweep as `GET /api/v1/sweeps` lists it. `metric` and `mode` are the objective the best trial
 * is chosen by: null when it is not known (the `Sweep` row does not record it; `GET /api/v1/sweeps/:id`
 * takes it as `?metric=…&mode=…`), and then `bestRunId` and `bestValue` are null too.
 */
export const SweepSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  /** `<searcher>+<scheduler>`, e.g. `tpe+asha`. */
  algorithm: z.string(),
  metric: z.string().nullable(),
  mode: SweepModeSchema.nullable(),
  /** Trial runs linked to the sweep. */
  trials: z.number().int(),
  /** The trial run with the best value of the metric (by the mode); null when none reported it or the objective is unknown. */
  bestRunId: z.string().nullable(),
  bestValue: z.number().nullable(),
  createdAt: z.string(),
});
/** A sweep row of the sweeps page. */
export type SweepSummary = z.infer<typeof SweepSummarySchema>;

/** Body of `GET /api/v1/sweeps`: the most recent sweeps first. */
export const SweepListSchema = z.object({ sweeps: z.array(SweepSummarySchema) });
/** A parsed sweep list. */
export type SweepList = z.infer<typeof SweepListSchema>;

/**
 * The scheduler's last word on a trial, from the trial run's sweep Events: `stopped` at a rung
 * (`step`), `ended` (it ran until its run ended: `status` says how), or `started` (nothing decided yet).
 * `value` is the last value of the sweep's metric the runner saw at that point (null before any).
 */
export const SweepDecisionSchema = z.object({
  kind: z.enum(['started', 'stopped', 'ended']),
  step: z.number().int().nullable(),
  status: z.string().nullable(),
  value: z.number().nullable(),
  time: z.string(),
});
/** A trial's last scheduler decision. */
export type SweepDecision = z.infer<typeof SweepDecisionSchema>;

/** One trial of a sweep: its run, the searched parameters and how far it got. */
export const SweepTrialSchema = z.object({
  runId: z.string(),
  /** The runner's trial id (`t0`, `t1`, …); null when the trial's start Event is missing. */
  trialId: z.string().nullable(),
  name: z.string(),
  status: z.string(),
  /** The searched parameters by dotted run-config path (the searcher's suggestion). */
  params: z.record(z.string(), z.unknown()),
  step: z.number().int(),
  totalUpdates: z.number().int(),
  /** The best value of the sweep's metric (by the mode), up to the step a scheduler stopped it at; null when unknown. */
  bestValue: z.number().nullable(),
  lastDecision: SweepDecisionSchema.nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  /** From start to end (or to now while it trains); null before it started. */
  durationMs: z.number().nullable(),
});
/** A trial row of a sweep page. */
export type SweepTrial = z.infer<typeof SweepTrialSchema>;

/** Body of `GET /api/v1/sweeps/:id`: the sweep (with its search space) and its trials in start order. */
export const SweepDetailSchema = z.object({
  sweep: SweepSummarySchema.extend({ searchSpace: z.record(z.string(), z.unknown()) }),
  trials: z.array(SweepTrialSchema),
});
/** A parsed sweep detail. */
export type SweepDetail = z.infer<typeof SweepDetailSchema>;
