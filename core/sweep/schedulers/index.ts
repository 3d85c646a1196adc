import type { z } from 'zod';
import { AshaScheduler, AshaSchedulerOptionsSchema } from './asha-scheduler.ts';
import { FifoScheduler, FifoSchedulerOptionsSchema } from './fifo-scheduler.ts';
import { MedianSchedulerOptionsSchema, MedianStoppingScheduler } from './median-stopping-scheduler.ts';
import { PbtScheduler, PbtSchedulerOptionsSchema } from './pbt-scheduler.ts';
import type { SchedulerContext, TrialScheduler } from './trial-scheduler.ts';

export type { SchedulerContext, SchedulerDecision, TrialScheduler } from './trial-scheduler.ts';

/** One trial scheduler of the registry: its options (the sweep config's `scheduler: { type, ... }`) and its factory. */
export interface SchedulerKind {
  /** Its options, without `type`. */
  optionsSchema: z.ZodObject;
  /** A fresh scheduler (options already validated by `optionsSchema`). */
  create(ctx: SchedulerContext, options: Record<string, unknown>): TrialScheduler;
}

/**
 * The trial schedulers: the one list the sweep config's `scheduler.type` enum derives from.
 * A new scheduler is one file plus one line here.
 */
export const SCHEDULERS = {
  fifo: { optionsSchema: FifoSchedulerOptionsSchema, create: () => new FifoScheduler() },
  asha: { optionsSchema: AshaSchedulerOptionsSchema, create: (ctx, options) => new AshaScheduler(ctx, options) },
  median: { optionsSchema: MedianSchedulerOptionsSchema, create: (ctx, options) => new MedianStoppingScheduler(ctx, options) },
  pbt: { optionsSchema: PbtSchedulerOptionsSchema, create: (ctx, options) => new PbtScheduler(ctx, options) },
} satisfies Record<string, SchedulerKind>;

/** A scheduler's registry name. */
export type SchedulerName = keyof typeof SCHEDULERS;

/** The scheduler names, in registry order. */
export const SCHEDULER_NAMES = Object.keys(SCHEDULERS) as [SchedulerName, ...SchedulerName[]];
