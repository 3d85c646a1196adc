import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import type { SeededRandom } from '../data/seeded-random.ts';

/** A JSON value: what a categorical parameter may take and what a suggestion holds. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const JsonValueSchema = z.json() as z.ZodType<JsonValue>;
const Finite = z.number().finite();

/** One of a list of values, drawn at random (a categorical parameter for TPE). */
export const ChoiceParamSchema = z.strictObject({ type: z.literal('choice'), values: z.array(JsonValueSchema).min(1).max(10_000) });
/** Every one of a list of values: enumerated by the grid searcher, categorical for random and TPE. */
export const GridParamSchema = z.strictObject({ type: z.literal('grid'), values: z.array(JsonValueSchema).min(1).max(10_000) });
/** A float uniform in [low, high]. */
export const UniformParamSchema = z.strictObject({ type: z.literal('uniform'), low: Finite, high: Finite });
/** A float whose logarithm is uniform in [log low, log high] (0 < low < high). */
export const LogUniformParamSchema = z.strictObject({ type: z.literal('loguniform'), low: Finite.positive(), high: Finite.positive() });
/** An integer uniform in [low, high], both ends included. */
export const IntParamSchema = z.strictObject({ type: z.literal('int'), low: z.int(), high: z.int() });
/** A loguniform float rounded to a multiple of `q`, kept inside [low, high]. */
export const QLogUniformParamSchema = z.strictObject({
  type: z.literal('qloguniform'),
  low: Finite.positive(),
  high: Finite.positive(),
  q: Finite.positive(),
});

/** The kinds of parameter of a search space (discriminated on `type`). */
export const PARAM_TYPES = ['choice', 'grid', 'uniform', 'loguniform', 'int', 'qloguniform'] as const;

/**
 * One parameter of a search space, as in a sweep config.
 * @example ParamSpecSchema.parse({ type: 'loguniform', low: 1e-4, high: 1e-1 })
 */
export const ParamSpecSchema = z
  .discriminatedUnion('type', [ChoiceParamSchema, GridParamSchema, UniformParamSchema, LogUniformParamSchema, IntParamSchema, QLogUniformParamSchema])
  .superRefine((p, ctx) => {
    if (p.type === 'choice' || p.type === 'grid') return;
    if (p.type === 'int' ? p.low > p.high : p.low >= p.high) {
      ctx.addIssue({ code: 'custom', path: ['high'], message: `high (${p.high}) must be ${p.type === 'int' ? 'at least' : 'above'} low (${p.low})` });
      return;
    }
    if (p.type === 'qloguniform' && quantizedRange(p.low, p.high, p.q) === null) {
      ctx.addIssue({ code: 'custom', path: ['q'], message: `no multiple of q (${p.q}) lies in [${p.low}, ${p.high}]` });
    }
  });

/** A validated search-space parameter. */
export type ParamSpec = z.infer<typeof ParamSpecSchema>;
/** A numeric (ordered, bounded) parameter. */
export type NumericParamSpec = Extract<ParamSpec, { low: number }>;
/** A categorical parameter. */
export type CategoricalParamSpec = Extract<ParamSpec, { values: unknown }>;

/** A search space: parameter specs by dotted run-config path (`optimizer.lr`), in the config's order. */
export type SearchSpace = Readonly<Record<string, ParamSpec>>;

/** One trial's parameter values by dotted path. */
export type Suggestion = Readonly<Record<string, JsonValue>>;

/** Whether a parameter is categorical (`choice`, `grid`). */
export function isCategorical(p: ParamSpec): p is CategoricalParamSpec {
  return p.type === 'choice' || p.type === 'grid';
}

/** The smallest and largest multiple of q in [low, high] (as multiples k·q), or null when there is none. */
function quantizedRange(low: number, high: number, q: number): { kMin: number; kMax: number } | null {
  const kMin = Math.ceil(low / q - 1e-9);
  const kMax = Math.floor(high / q + 1e-9);
  return kMin <= kMax ? { kMin, kMax } : null;
}

/** Clamps x into [low, high]. */
export function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}

/**
 * Maps any real number to the nearest legal value of a numeric parameter: clamped to [low, high],
 * rounded for `int`, rounded to a multiple of q (and kept inside [low, high]) for `qloguniform`.
 */
export function legalNumber(p: NumericParamSpec, x: number): number {
  switch (p.type) {
    case 'uniform':
    case 'loguniform':
      return clamp(x, p.low, p.high);
    case 'int':
      return clamp(Math.round(x), p.low, p.high);
    case 'qloguniform': {
      const range = quantizedRange(p.low, p.high, p.q);
      if (!range) throw new CrowdtrainError('INVALID_CONFIG', `no multiple of q (${p.q}) lies in [${p.low}, ${p.high}]`);
      const k = clamp(Math.round(x / p.q), range.kMin, range.kMax);
      // Printing-stable multiple (0.1 * 3 is 0.30000000000000004), then back inside the bounds.
      return clamp(Number((k * p.q).toPrecision(12)), p.low, p.high);
    }
    default: {
      const never: never = p;
      throw new CrowdtrainError('INTERNAL', `unknown numeric parameter ${JSON.stringify(never)}`);
    }
  }
}

/** Whether a numeric parameter is sampled on a log scale (`loguniform`, `qloguniform`). */
export function isLogScale(p: NumericParamSpec): boolean {
  return p.type === 'loguniform' || p.type === 'qloguniform';
}

/**
 * Draws one value of a parameter with `rng`: a uniform pick among `values`, or a uniform
 * (log-uniform) float, integer or quantized float inside the bounds.
 * @example sampleParam({ type: 'int', low: 1, high: 6 }, new SeededRandom(1)) // 1..6
 */
export function sampleParam(p: ParamSpec, rng: SeededRandom): JsonValue {
  switch (p.type) {
    case 'choice':
    case 'grid':
      return p.values[rng.int(p.values.length)]!;
    case 'uniform':
      return legalNumber(p, p.low + rng.next() * (p.high - p.low));
    case 'int':
      return p.low + rng.int(p.high - p.low + 1);
    case 'loguniform':
    case 'qloguniform': {
      const lo = Math.log(p.low);
      return legalNumber(p, Math.exp(lo + rng.next() * (Math.log(p.high) - lo)));
    }
    default: {
      const never: never = p;
      throw new CrowdtrainError('INTERNAL', `unknown parameter ${JSON.stringify(never)}`);
    }
  }
}

/** Draws every parameter of a space, in the space's order, from one generator. */
export function sampleSpace(space: SearchSpace, rng: SeededRandom): Suggestion {
  const out: Record<string, JsonValue> = {};
  for (const [path, p] of Object.entries(space)) out[path] = sampleParam(p, rng);
  return out;
}

/** Whether `value` is a legal value of `p` (inside the bounds, integral, a listed value). */
export function isLegalValue(p: ParamSpec, value: JsonValue): boolean {
  if (isCategorical(p)) return p.values.some((v) => jsonEqual(v, value));
  if (typeof value !== 'number' || !Number.isFinite(value) || value < p.low || value > p.high) return false;
  if (p.type === 'int') return Number.isInteger(value);
  if (p.type === 'qloguniform') return Math.abs(value / p.q - Math.round(value / p.q)) < 1e-6;
  return true;
}

/** Structural equality of two JSON values. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The parameters a grid enumerates (every one of them must be categorical) and an error naming the first that is not. */
function gridParams(space: SearchSpace): [string, CategoricalParamSpec][] {
  return Object.entries(space).map(([path, p]) => {
    if (!isCategorical(p)) {
      throw new CrowdtrainError('INVALID_CONFIG', `the grid searcher enumerates only grid and choice parameters: space.${path} is ${p.type}`);
    }
    return [path, p];
  });
}

/** The number of points of the full grid over a space of categorical parameters (1 for an empty space). */
export function gridSize(space: SearchSpace): number {
  return gridParams(space).reduce((n, [, p]) => n * p.values.length, 1);
}

/**
 * The `index`-th point of the grid over a space of categorical parameters, in the order of
 * Python's itertools.product: the first parameter varies slowest, the last fastest.
 * @example gridPoint({ a: { type: 'grid', values: [1, 2] }, b: { type: 'grid', values: ['x', 'y'] } }, 1) // { a: 1, b: 'y' }
 */
export function gridPoint(space: SearchSpace, index: number): Suggestion {
  const params = gridParams(space);
  const size = params.reduce((n, [, p]) => n * p.values.length, 1);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new CrowdtrainError('INVALID_CONFIG', `grid point ${index} is outside the grid of ${size} points`);
  }
  const out: Record<string, JsonValue> = {};
  let rest = index;
  for (let i = params.length - 1; i >= 0; i--) {
    const [path, p] = params[i]!;
    out[path] = p.values[rest % p.values.length]!;
    rest = Math.floor(rest / p.values.length);
  }
  // Keep the space's key order.
  return Object.fromEntries(params.map(([path]) => [path, out[path]!]));
}

/** Every point of the grid, in {@link gridPoint} order. */
export function enumerateGrid(space: SearchSpace): Suggestion[] {
  const n = gridSize(space);
  return Array.from({ length: n }, (_, i) => gridPoint(space, i));
}
