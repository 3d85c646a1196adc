import { firstNonFinite } from '../../codec/float-bytes.ts';
import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import type { AggregationReport, AggregatorCore, AggregatorDefinition, AggregatorInput, InputOutcome } from './aggregator.ts';
import { bulyanAggregator } from './bulyan.ts';
import { centeredClippingAggregator } from './centered-clipping.ts';
import { krumAggregator, multiKrumAggregator } from './krum.ts';
import { medianAggregator } from './median.ts';
import { normBoundingAggregator } from './norm-bounding.ts';
import { trimmedMeanAggregator } from './trimmed-mean.ts';
import { weightedMeanAggregator } from './weighted-mean.ts';

export type { AggregationReport, AggregatorInput, InputOutcome } from './aggregator.ts';

/**
 * The aggregators a run can select (`<mode>: { aggregator: { name, ...options } }`): the one
 * list the spec schema, docs and errors derive from. A new aggregator is one module plus one
 * line here.
 */
export const AGGREGATORS = {
  mean: weightedMeanAggregator,
  median: medianAggregator,
  trimmed_mean: trimmedMeanAggregator,
  krum: krumAggregator,
  multi_krum: multiKrumAggregator,
  bulyan: bulyanAggregator,
  centered_clipping: centeredClippingAggregator,
  norm_bounding: normBoundingAggregator,
} as const;

/** A registered aggregator's name. */
export type AggregatorName = keyof typeof AGGREGATORS;

/** The spec schema of one definition: its options plus `name`, strict. */
function specSchema<Name extends string, Shape extends z.ZodRawShape>(definition: AggregatorDefinition<Name, Shape>) {
  return z.strictObject({ ...definition.optionsSchema.shape, name: z.literal(definition.name) });
}

const names = Object.keys(AGGREGATORS);

/**
 * An aggregator spec, e.g. `{ name: 'trimmed_mean', beta: 0.2 }`: the name picks the registry
 * entry, the other keys are its options (strict, defaults filled). An unknown name is an error
 * that lists the registered ones.
 */
export const AggregatorSpecSchema = z.discriminatedUnion(
  'name',
  [
    specSchema(AGGREGATORS.mean),
    specSchema(AGGREGATORS.median),
    specSchema(AGGREGATORS.trimmed_mean),
    specSchema(AGGREGATORS.krum),
    specSchema(AGGREGATORS.multi_krum),
    specSchema(AGGREGATORS.bulyan),
    specSchema(AGGREGATORS.centered_clipping),
    specSchema(AGGREGATORS.norm_bounding),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `aggregator name must be one of ${names.join(', ')}` : undefined) },
);

/** A parsed aggregator spec (defaults filled). */
export type AggregatorSpec = z.output<typeof AggregatorSpecSchema>;
/** An aggregator spec as written in a config. */
export type AggregatorSpecInput = z.input<typeof AggregatorSpecSchema>;

/** The spec a run gets when it names none: today's weighted mean. */
export const DEFAULT_AGGREGATOR: AggregatorSpec = { name: 'mean' };

/**
 * One run's aggregator: `aggregate` checks its inputs, runs the registered arithmetic and guards
 * the output, so that no NaN or infinity ever leaves it (see {@link createAggregator}).
 */
export interface Aggregator {
  readonly name: AggregatorName;
  /** Whether every input must be held at once (see AggregatorDefinition.needsAllVectors). */
  readonly needsAllVectors: boolean;
  /** Writes the aggregate of `inputs` into `out` (`paramCount` values, aliasing no input) and says what it did with each input. */
  aggregate(inputs: readonly AggregatorInput[], out: Float32Array): AggregationReport;
  /** State carried across rounds (slot name -> a copy), empty when stateless. */
  state(): Record<string, Float32Array>;
  /** Restores `state()`; CrowdtrainError('CHECKPOINT_INVALID') when it does not fit. */
  load(slots: Readonly<Record<string, Float32Array>>): void;
}


/** Checks what every aggregator assumes; CrowdtrainError naming the problem. */
function checkInputs(name: string, inputs: readonly AggregatorInput[], out: Float32Array, paramCount: number): void {
  if (inputs.length === 0) throw new CrowdtrainError('INTERNAL', `aggregator ${name} needs at least 1 input, got 0`);
  if (out.length !== paramCount) throw new CrowdtrainError('SHAPE_MISMATCH', `aggregator ${name} output has ${out.length} values, expected ${paramCount}`);
  inputs.forEach((u, k) => {
    if (u.values.length !== paramCount) throw new CrowdtrainError('SHAPE_MISMATCH', `aggregator ${name}: input ${k} has ${u.values.length} values, expected ${paramCount}`);
    if (!(u.weight > 0) || !Number.isFinite(u.weight)) throw new CrowdtrainError('INVALID_MESSAGE', `aggregator ${name}: input ${k} has weight ${u.weight}, expected a finite number > 0`);
    if (u.values.buffer === out.buffer && u.values.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < u.values.byteOffset + u.values.byteLength) {
      throw new CrowdtrainError('INTERNAL', `aggregator ${name}: the output overlaps input ${k}`);
    }
  });
}

/**
 * The guard every aggregator runs behind: when the output holds a non-finite value, the inputs
 * holding one are excluded (reason: the first bad index and value) and the rest aggregated again;
 * a non-finite output from finite inputs is an internal error, and so are inputs that are all
 * non-finite (upstream validation should have rejected them): NaN never leaves.
 */
function guarded(name: string, core: AggregatorCore, inputs: readonly AggregatorInput[], out: Float32Array): AggregationReport {
  const report = core.aggregate(inputs, out);
  if (firstNonFinite(out) < 0) return report;
  const bad = inputs.map((u) => firstNonFinite(u.values));
  const finite = inputs.filter((_, k) => bad[k]! < 0);
  if (finite.length === inputs.length) throw new CrowdtrainError('INTERNAL', `aggregator ${name} produced a non-finite value from finite inputs`);
  if (finite.length === 0) throw new CrowdtrainError('NON_FINITE', `aggregator ${name}: every one of the ${inputs.length} inputs holds a non-finite value`);
  const rerun = core.aggregate(finite, out);
  const at = firstNonFinite(out);
  if (at >= 0) throw new CrowdtrainError('INTERNAL', `aggregator ${name} produced ${out[at]} at ${at} from finite inputs`);
  let next = 0;
  const outcomes: InputOutcome[] = inputs.map((u, k) => {
    const i = bad[k]!;
    if (i < 0) return rerun.inputs[next++]!;
    return { excluded: true, scale: 1, weight: 0, reason: `value ${i} is ${u.values[i]}: an input with a non-finite value is left out` };
  });
  return { inputs: outcomes, notes: rerun.notes };
}

/**
 * Creates the aggregator a spec names for vectors of `paramCount` values. The spec is parsed here
 * too (CrowdtrainError('INVALID_CONFIG') naming the field), so any mode or UpdateRule can take a
 * raw section.
 * @example
 * const agg = createAggregator({ name: 'trimmed_mean', beta: 0.2 }, paramCount);
 * const report = agg.aggregate(results.map((r) => ({ values: r.values, weight: r.sampleCount })), out);
 */
export function createAggregator(spec: AggregatorSpecInput, paramCount: number): Aggregator {
  const parsed = AggregatorSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid aggregator: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'aggregator'}: ${i.message}`).join('; ')}`);
  }
  const { name, ...options } = parsed.data;
  const definition = AGGREGATORS[name] as AggregatorDefinition;
  const core = definition.create(options, paramCount);
  return {
    name,
    needsAllVectors: definition.needsAllVectors,
    aggregate(inputs, out) {
      checkInputs(name, inputs, out, paramCount);
      const report = guarded(name, core, inputs, out);
      core.commit?.(out);
      return report;
    },
    state: () => core.state?.() ?? {},
    load(slots) {
      if (core.load) core.load(slots);
      else if (Object.keys(slots).length > 0) {
        throw new CrowdtrainError('CHECKPOINT_INVALID', `aggregator ${name} keeps no state, the checkpoint has [${Object.keys(slots).join(', ')}]`);
      }
    },
  };
}

/**
 * Rule metrics of one aggregation, for UpdateOutcome.metrics: how many inputs were excluded and
 * how many clipped (scaled down).
 */
export function aggregationMetrics(report: AggregationReport): { aggregator_excluded: number; aggregator_clipped: number } {
  return {
    aggregator_excluded: report.inputs.filter((o) => o.excluded).length,
    aggregator_clipped: report.inputs.filter((o) => !o.excluded && o.scale < 1).length,
  };
}
