import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';

const Lr = z.number().positive().finite();
const Beta = z.number().min(0).lt(1);
const WeightDecay = z.number().min(0).finite();

/** Plain SGD, or heavy-ball / Nesterov momentum SGD when `momentum` > 0 (tfjs `train.sgd` / `train.momentum`). */
export const SgdSpecSchema = z.strictObject({
  name: z.literal('sgd'),
  lr: Lr,
  momentum: z.number().min(0).lt(1).default(0),
  nesterov: z.boolean().default(false),
  /** L2 penalty added to the gradient (`g + weight_decay * p`), as torch.optim.SGD. */
  weight_decay: WeightDecay.default(0),
});

/** Adam as tfjs `train.adam` (epsilon 1e-7 by default, tfjs's float32 epsilon); weight decay is L2 added to the gradient. */
export const AdamSpecSchema = z.strictObject({
  name: z.literal('adam'),
  lr: Lr,
  beta1: Beta.default(0.9),
  beta2: Beta.default(0.999),
  epsilon: z.number().positive().finite().default(1e-7),
  weight_decay: WeightDecay.default(0),
});

/** AdamW as torch.optim.AdamW: decoupled decay `p -= lr * weight_decay * p`, epsilon 1e-8 by default as PyTorch. */
export const AdamwSpecSchema = z.strictObject({
  name: z.literal('adamw'),
  lr: Lr,
  beta1: Beta.default(0.9),
  beta2: Beta.default(0.999),
  epsilon: z.number().positive().finite().default(1e-8),
  weight_decay: WeightDecay.default(0.01),
});

/**
 * An optimizer configuration, snake_case as in PyTorch/YAML configs, discriminated on `name`.
 * @example OptimizerSpecSchema.parse({ name: 'adam', lr: 1e-3 }) // beta1 0.9, beta2 0.999, epsilon 1e-7
 */
export const OptimizerSpecSchema = z.discriminatedUnion('name', [SgdSpecSchema, AdamSpecSchema, AdamwSpecSchema]);

/** A validated optimizer spec with every default filled in. */
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;
/** The SGD variant of {@link OptimizerSpec}. */
export type SgdSpec = z.infer<typeof SgdSpecSchema>;
/** The Adam variant of {@link OptimizerSpec}. */
export type AdamSpec = z.infer<typeof AdamSpecSchema>;
/** The AdamW variant of {@link OptimizerSpec}. */
export type AdamwSpec = z.infer<typeof AdamwSpecSchema>;

/**
 * Validates a user-supplied optimizer config; throws CrowdtrainError('INVALID_CONFIG') naming each bad field.
 * @example parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.9 })
 */
export function parseOptimizerSpec(input: unknown): OptimizerSpec {
  const parsed = OptimizerSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid optimizer spec: ${describeZodError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
