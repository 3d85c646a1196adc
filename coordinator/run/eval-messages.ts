import { z } from 'zod';
import { ModelSpecSchema } from '../../core/models/model-spec.ts';

/**
 * The messages between a run's {@link EvaluationThread} (coordinator side) and its thread
 * (`eval-worker.ts`). Both ends validate what they receive with these schemas: the thread its
 * start data and requests, the coordinator the thread's replies.
 */

/** The test split the thread evaluates on (its own copy). */
export const EvalTestSplitSchema = z.strictObject({
  name: z.string(),
  size: z.int().min(1),
  inputShape: z.array(z.int().min(1)).min(1),
  numClasses: z.int().min(1).max(256),
  features: z.instanceof(Float32Array),
  labels: z.instanceof(Uint8Array),
});

/** What the thread is started with (`workerData`): the model to build and the test split. */
export const EvalThreadInitSchema = z.strictObject({
  runName: z.string(),
  model: ModelSpecSchema,
  seed: z.int(),
  /** The tfjs backend of the coordinator's thread (`tf.getBackend()`): the thread sets up the same one. */
  backend: z.string().min(1),
  /** The coordinator model's parameter count: the thread refuses to start on a model of another size. */
  paramCount: z.int().min(1),
  /** Samples per forward pass (the same as the in-thread evaluation, so the sums are identical). */
  batchSize: z.int().min(1),
  test: EvalTestSplitSchema,
});
/** Start data of an evaluation thread. */
export type EvalThreadInit = z.infer<typeof EvalThreadInitSchema>;

/** Coordinator -> thread: evaluate these parameters (a copy, transferred). */
export const EvalRequestSchema = z.strictObject({
  id: z.int().nonnegative(),
  params: z.instanceof(Float32Array),
});
/** One evaluation request. */
export type EvalRequest = z.infer<typeof EvalRequestSchema>;

/**
 * Coordinator -> thread: permutation feature importance of these parameters on the test split
 * (core/metrics/permutation-importance.ts): `groups` names the input indices of each source column.
 */
export const ImportanceRequestSchema = z.strictObject({
  type: z.literal('importance'),
  id: z.int().nonnegative(),
  params: z.instanceof(Float32Array),
  groups: z.array(z.strictObject({ column: z.string(), inputs: z.array(z.int().nonnegative()).min(1) })).min(1),
  repeats: z.int().min(1).max(100),
  seed: z.int(),
});
/** One feature importance request. */
export type ImportanceRequest = z.infer<typeof ImportanceRequestSchema>;

/** Any request the thread answers: an evaluation or a feature importance. */
export const ThreadRequestSchema = z.union([EvalRequestSchema, ImportanceRequestSchema]);

/** Any number, NaN and ±Infinity included (the loss of a diverged model is reported as it is). */
const AnyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');

/** Thread -> coordinator: the model is built, or one request's result (an evaluation's or a feature importance's), or why it failed. */
export const EvalReplySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), backend: z.string() }),
  z.strictObject({
    type: z.literal('result'),
    id: z.int().nonnegative(),
    loss: AnyNumber,
    accuracy: AnyNumber,
    /** Counts, row = true class, column = predicted class (GradientComputer.evaluate). */
    confusion: z.array(z.array(z.int().nonnegative())),
  }),
  z.strictObject({
    type: z.literal('importance'),
    id: z.int().nonnegative(),
    repeats: z.int().min(1),
    baseline: z.strictObject({ loss: AnyNumber, accuracy: AnyNumber }),
    truncated: z.boolean(),
    total_columns: z.int().nonnegative(),
    columns: z.array(
      z.strictObject({ column: z.string(), accuracy_drop_mean: AnyNumber, accuracy_drop_std: AnyNumber, loss_rise_mean: AnyNumber, loss_rise_std: AnyNumber }),
    ),
  }),
  z.strictObject({ type: z.literal('error'), id: z.int().nonnegative().nullable(), message: z.string() }),
]);
/** One reply of an evaluation thread. */
export type EvalReply = z.infer<typeof EvalReplySchema>;
