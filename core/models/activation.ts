import { z } from 'zod';

/** Activations a spec may name; all are smooth or piecewise-linear and deterministic. */
export const ActivationSchema = z.enum(['relu', 'tanh', 'sigmoid', 'elu']);

/** A hidden-layer activation name. */
export type Activation = z.infer<typeof ActivationSchema>;
