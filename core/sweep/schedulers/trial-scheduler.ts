import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/messages.ts';
import type { SearchSpace, Suggestion } from '../search-space.ts';
import type { SweepMode } from '../searchers/searcher.ts';

/**
 * What a scheduler says about a trial after one of its results: go on, stop it now, or (PBT)
 * replace it by a copy of the donor trial's latest checkpoint trained on with `params`.
 */
export type SchedulerDecision = 'continue' | 'stop' | { exploit: string; params: Suggestion };

/** What every scheduler is built from. */
export interface SchedulerContext {
  space: SearchSpace;
  seed: number;
  mode: SweepMode;
  /** The base run's `total_updates`: the longest a trial trains (ASHA's default `max_t`). */
  maxSteps: number;
}

/**
 * A trial scheduler (Ray Tune's TrialScheduler): sees every intermediate result of every trial and
 * decides whether the trial continues. Pure and deterministic for a seed; `load(state())` on a fresh
 * instance decides exactly as the saved one would have.
 */
export interface TrialScheduler {
  /** The registry name (`fifo`, `asha`, `median`, `pbt`). */
  readonly name: string;
  /** A trial started with these params. */
  onTrialAdd(trialId: string, params: Suggestion): void;
  /** The trial reported `value` of the sweep's metric after `step` updates. A non-finite value (a diverged trial) is stopped. */
  onResult(trialId: string, step: number, value: number): SchedulerDecision;
  /** The trial ended (finished, stopped, failed): it is no longer a candidate for anything. */
  onTrialEnd(trialId: string): void;
  /** Everything the scheduler knows, as plain JSON. */
  state(): unknown;
  /** Restores {@link state}'s output (validated; CrowdtrainError('INVALID_CONFIG') naming the bad field). */
  load(state: unknown): void;
}

/** A value oriented so that higher is better: the value under `max`, its negation under `min`. */
export function asScore(value: number, mode: SweepMode): number {
  return mode === 'max' ? value : -value;
}

/** Parses a saved scheduler state with its schema, naming the bad field. */
export function parseSchedulerState<S extends z.ZodType>(schema: S, raw: unknown, name: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid ${name} scheduler state: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Parses a scheduler's options with its schema, naming the bad field. */
export function parseSchedulerOptions<S extends z.ZodType>(schema: S, raw: unknown, name: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid ${name} scheduler options: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Linear-interpolation percentile (numpy's default): the value at rank (q/100)·(n−1) of the sorted
 * values; null for no values.
 * @example percentile([1, 2, 3, 4], 50) // 2.5
 */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** The median (numpy's: mean of the two middle values for an even count); null for no values. */
export function median(values: readonly number[]): number | null {
  return percentile(values, 50);
}
