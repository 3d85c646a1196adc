import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';

const Updates = z.number().int().positive();
const Factor = z.number().min(0).finite();
const Gamma = z.number().positive().finite();

/** Factor 1 throughout; `updates` only sets its length inside a chain. */
export const ConstantLrSchema = z.strictObject({ type: z.literal('constant'), updates: Updates.optional() });

/** Factor interpolated from `start_factor` to `end_factor` over `updates`, then held (torch LinearLR). */
export const LinearLrSchema = z.strictObject({
  type: z.literal('linear'),
  start_factor: Factor,
  end_factor: Factor,
  updates: Updates,
});

/** Cosine from 1 to `end_factor` over `updates` (default: the rest of training), then held (torch CosineAnnealingLR). */
export const CosineLrSchema = z.strictObject({
  type: z.literal('cosine'),
  updates: Updates.optional(),
  end_factor: Factor.default(0),
});

/** Factor `gamma^floor(u / step_size)` (torch StepLR); `updates` only sets its length inside a chain. */
export const StepLrSchema = z.strictObject({
  type: z.literal('step'),
  step_size: Updates,
  gamma: Gamma,
  updates: Updates.optional(),
});

/** Factor `gamma^u` (torch ExponentialLR); `updates` only sets its length inside a chain. */
export const ExponentialLrSchema = z.strictObject({
  type: z.literal('exponential'),
  gamma: Gamma,
  updates: Updates.optional(),
});

/** One stage of a chain: any schedule except chain and warmup_cosine. */
export const LrStageSchema = z.discriminatedUnion('type', [
  ConstantLrSchema,
  LinearLrSchema,
  CosineLrSchema,
  StepLrSchema,
  ExponentialLrSchema,
]);
/** A validated chain stage. */
export type LrStage = z.infer<typeof LrStageSchema>;

/**
 * Stages run one after another, each counting updates from its own start; at most one stage may
 * omit `updates` and then lasts "the rest" (total minus the others). Factors are absolute (times base lr).
 */
export const ChainLrSchema = z.strictObject({
  type: z.literal('chain'),
  stages: z
    .array(LrStageSchema)
    .min(1)
    .superRefine((stages, ctx) => {
      const open = stages.flatMap((s, i) => (s.updates === undefined ? [i] : []));
      for (const i of open.slice(1)) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'updates'],
          message: `only one stage may omit updates (stage ${open[0]} already takes the rest)`,
        });
      }
    }),
});

/** Linear warmup from `start_factor` (default 0) to 1 over `warmup_updates`, then cosine to `end_factor` over the rest. */
export const WarmupCosineLrSchema = z.strictObject({
  type: z.literal('warmup_cosine'),
  warmup_updates: z.number().int().min(0),
  end_factor: Factor.default(0),
  start_factor: Factor.default(0),
});

/**
 * A learning-rate schedule config (snake_case); the factor it yields multiplies the optimizer's base lr.
 * @example
 * LrScheduleSchema.parse({ type: 'chain', stages: [
 *   { type: 'linear', start_factor: 0.001, end_factor: 1, updates: 5000 },
 *   { type: 'cosine', end_factor: 0.01 },
 *   { type: 'linear', start_factor: 0.01, end_factor: 0, updates: 1000 } ] })
 */
export const LrScheduleSchema = z.discriminatedUnion('type', [
  ConstantLrSchema,
  LinearLrSchema,
  CosineLrSchema,
  StepLrSchema,
  ExponentialLrSchema,
  ChainLrSchema,
  WarmupCosineLrSchema,
]);
/** A validated learning-rate schedule with defaults filled in. */
export type LrSchedule = z.infer<typeof LrScheduleSchema>;

/**
 * Validates a user-supplied schedule; throws CrowdtrainError('INVALID_CONFIG') naming each bad field.
 * @example parseLrSchedule({ type: 'warmup_cosine', warmup_updates: 500, end_factor: 0.1 })
 */
export function parseLrSchedule(input: unknown): LrSchedule {
  const parsed = LrScheduleSchema.safeParse(input);
  if (!parsed.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid lr schedule: ${describeZodError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Factor of one stage at `local` updates after its start; `length` is its resolved number of updates. */
function stageFactor(stage: LrStage, local: number, length: number): number {
  switch (stage.type) {
    case 'constant':
      return 1;
    case 'linear':
      return stage.start_factor + ((stage.end_factor - stage.start_factor) * Math.min(local, stage.updates)) / stage.updates;
    case 'cosine': {
      if (length <= 0) return stage.end_factor;
      const t = Math.min(local, length);
      return stage.end_factor + ((1 - stage.end_factor) * (1 + Math.cos((Math.PI * t) / length))) / 2;
    }
    case 'step':
      return stage.gamma ** Math.floor(local / stage.step_size);
    case 'exponential':
      return stage.gamma ** local;
    default: {
      const never: never = stage;
      throw new CrowdtrainError('INVALID_CONFIG', `unknown lr stage ${JSON.stringify(never)}`);
    }
  }
}

/** Factor of a chain of stages at global update `update`. */
function chainFactor(stages: readonly LrStage[], update: number, totalUpdates: number): number {
  const fixed = stages.reduce((sum, s) => sum + (s.updates ?? 0), 0);
  const open = stages.some((s) => s.updates === undefined);
  const rest = totalUpdates - fixed;
  if (open && rest < 0) {
    throw new CrowdtrainError(
      'INVALID_CONFIG',
      `lr schedule stages with fixed updates take ${fixed} updates, more than total_updates ${totalUpdates}; no room for the stage without updates`,
    );
  }
  let offset = 0;
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    const length = stage.updates ?? rest;
    if (update < offset + length || i === stages.length - 1) return stageFactor(stage, update - offset, length);
    offset += length;
  }
  throw new CrowdtrainError('INTERNAL', 'lr schedule chain has no stages');
}

/**
 * The learning rate for global update `update` (0-based) of a run of `totalUpdates` updates:
 * `baseLr * factor(schedule, update)`. Pure in its arguments, so a resumed run gets exactly the
 * same rates.
 * @example lrAt({ type: 'cosine', end_factor: 0 }, 0.1, 500, 1000) // 0.05
 */
export function lrAt(schedule: LrSchedule, baseLr: number, update: number, totalUpdates: number): number {
  if (!Number.isSafeInteger(update) || update < 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `update is ${update}, expected an integer >= 0`);
  }
  if (!Number.isSafeInteger(totalUpdates) || totalUpdates < 1) {
    throw new CrowdtrainError('INVALID_CONFIG', `total_updates is ${totalUpdates}, expected an integer >= 1`);
  }
  if (!Number.isFinite(baseLr) || baseLr < 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `base lr is ${baseLr}, expected a finite number >= 0`);
  }
  switch (schedule.type) {
    case 'chain':
      return baseLr * chainFactor(schedule.stages, update, totalUpdates);
    case 'warmup_cosine': {
      const cosine: LrStage = { type: 'cosine', end_factor: schedule.end_factor };
      const stages: LrStage[] =
        schedule.warmup_updates > 0
          ? [{ type: 'linear', start_factor: schedule.start_factor, end_factor: 1, updates: schedule.warmup_updates }, cosine]
          : [cosine];
      return baseLr * chainFactor(stages, update, totalUpdates);
    }
    default:
      return baseLr * stageFactor(schedule, update, schedule.updates ?? totalUpdates);
  }
}
