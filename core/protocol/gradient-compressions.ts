/**
 * The gradient encodings a run can ask its workers for. A wire-level enumeration, so it lives in
 * core/protocol (which imports nothing else from core); core/codec implements them.
 */

/** How gradients travel from workers to the coordinator. */
export const GRADIENT_COMPRESSIONS = ['none', 'fp16', 'bf16'] as const;
/** A gradient encoding: `none` is plain float32. */
export type GradientCompression = (typeof GRADIENT_COMPRESSIONS)[number];
