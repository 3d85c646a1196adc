import type { z } from 'zod';
import type { WeightedUpdate } from '../reduce-weighted-mean.ts';

/** One update to aggregate: its values (a gradient or a weight delta) and its weight (the samples it was computed on). */
export type AggregatorInput = WeightedUpdate;

/** What an aggregator did with one input, so that a run can record it. */
export interface InputOutcome {
  /** Left out entirely (not selected by Krum/Bulyan, or non-finite values caught by the guard). */
  excluded: boolean;
  /** Factor the input (or its deviation from the center) was scaled by before use: 1 when untouched, < 1 when clipped. */
  scale: number;
  /**
   * The input's share in the output (shares sum to 1) when the output is a combination of the
   * inputs (mean, norm bounding, Krum, centered clipping's last step); null for coordinate-wise
   * rules (median, trimmed mean, Bulyan), where the share differs per coordinate.
   */
  weight: number | null;
  /** Why it was excluded or scaled, naming the figure that decided; null when used as given. */
  reason: string | null;
}

/** What one aggregation did: one outcome per input, in input order, plus round-level remarks. */
export interface AggregationReport {
  inputs: InputOutcome[];
  /** E.g. that the round had too few inputs for the configured `f` and a smaller one was used. */
  notes: string[];
}

/**
 * The arithmetic of one aggregator, created per run. `aggregate` may assume its inputs are
 * non-empty, of `out.length` values each, weights finite and > 0, and `out` aliases no input
 * (the registry's wrapper checks all that and guards the output against non-finite values).
 */
export interface AggregatorCore {
  /** Writes the aggregate of `inputs` into `out`. */
  aggregate(inputs: readonly AggregatorInput[], out: Float32Array): AggregationReport;
  /** Called once the output passed the finiteness guard: carry it into state across rounds (centered clipping's center). */
  commit?(out: Float32Array): void;
  /** State carried across rounds, for a checkpoint: slot name -> vector (copies). Absent or empty: stateless. */
  state?(): Record<string, Float32Array>;
  /** Restores `state()`; CrowdtrainError('CHECKPOINT_INVALID') when it does not fit. */
  load?(slots: Readonly<Record<string, Float32Array>>): void;
}

/**
 * One entry of the aggregator registry: its name (the `name:` of an aggregator spec), the schema
 * of its options, whether it needs every vector at once, and a factory.
 */
export interface AggregatorDefinition<Name extends string = string, Shape extends z.ZodRawShape = z.ZodRawShape> {
  readonly name: Name;
  /** One line for docs and errors. */
  readonly summary: string;
  /**
   * Whether every input must be held at once (n x paramCount floats), as for any rule that
   * compares inputs with each other; false when each input can be folded into a running result
   * as it arrives (the mean, norm bounding).
   */
  readonly needsAllVectors: boolean;
  /** Schema of the options (the spec without `name`), strict, defaults filled. */
  readonly optionsSchema: z.ZodObject<Shape>;
  /** A fresh aggregator for vectors of `paramCount` values. */
  create(options: z.output<z.ZodObject<Shape>>, paramCount: number): AggregatorCore;
}

/** Types an aggregator definition (and infers its options type). */
export function defineAggregator<Name extends string, Shape extends z.ZodRawShape>(definition: AggregatorDefinition<Name, Shape>): AggregatorDefinition<Name, Shape> {
  return definition;
}

/** An outcome for an input used as given with share `weight`. */
export function used(weight: number | null): InputOutcome {
  return { excluded: false, scale: 1, weight, reason: null };
}

/** An outcome for an input left out, with why. */
export function excluded(reason: string): InputOutcome {
  return { excluded: true, scale: 1, weight: 0, reason };
}

/** The inputs' weights normalised to sum to 1 (float64). */
export function normalisedWeights(inputs: readonly AggregatorInput[]): number[] {
  let total = 0;
  for (const u of inputs) total += u.weight;
  return inputs.map((u) => u.weight / total);
}
