import { z } from 'zod';
import { mixSeed, SeededRandom } from '../../data/seeded-random.ts';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { isCategorical, jsonEqual, legalNumber, sampleParam, type JsonValue, type SearchSpace, type Suggestion } from '../search-space.ts';
import {
  asScore,
  parseSchedulerOptions,
  parseSchedulerState,
  type SchedulerContext,
  type SchedulerDecision,
  type TrialScheduler,
} from './trial-scheduler.ts';

/** Options of population-based training, in updates. */
export const PbtSchedulerOptionsSchema = z.strictObject({
  /** A trial is considered for exploitation every this many updates (since its last perturbation). */
  perturbation_interval: z.number().int().positive(),
  /** The bottom and top fractions of the population by latest score (at most half each). */
  quantile: z.number().gt(0).max(0.5).default(0.25),
  /** Per mutated parameter, the probability of a fresh draw from its distribution rather than a perturbation. */
  resample_probability: z.number().min(0).max(1).default(0.25),
  /** The space paths PBT mutates (default: all); the others are copied from the donor unchanged. */
  mutations: z.array(z.string().min(1)).min(1).optional(),
});

/** PBT's options as written. */
export type PbtSchedulerOptions = z.input<typeof PbtSchedulerOptionsSchema>;

/** The factors a numeric parameter is multiplied by when perturbed (Ray Tune's defaults). */
export const PBT_PERTURBATION_FACTORS = [0.8, 1.2] as const;

const PbtTrialSchema = z.strictObject({
  id: z.string().min(1),
  params: z.record(z.string(), z.json()),
  score: z.number().nullable(),
  step: z.number(),
  lastPerturbation: z.number(),
  active: z.boolean(),
});

const PbtStateSchema = z.strictObject({ scheduler: z.literal('pbt'), decisions: z.number().int().nonnegative(), trials: z.array(PbtTrialSchema) });

interface PbtTrial {
  id: string;
  params: Record<string, JsonValue>;
  score: number | null;
  step: number;
  lastPerturbation: number;
  active: boolean;
}

/**
 * A donor's params explored as Ray Tune's PBT does: each mutated parameter is, with probability
 * `resampleProbability`, drawn afresh from its distribution; otherwise a numeric one is multiplied
 * by 0.8 or 1.2 (then clamped into its bounds, rounded for int, quantized for qloguniform) and a
 * categorical one moves to a neighbouring value in its list (clamped at the ends).
 */
export function exploreParams(params: Suggestion, space: SearchSpace, mutations: readonly string[], resampleProbability: number, rng: SeededRandom): Suggestion {
  const out: Record<string, JsonValue> = { ...params };
  for (const path of mutations) {
    const spec = space[path];
    if (!spec) throw new CrowdtrainError('INVALID_CONFIG', `scheduler.mutations names ${path}, which is not a parameter of the space`);
    const current = params[path];
    if (rng.next() < resampleProbability || current === undefined) {
      out[path] = sampleParam(spec, rng);
    } else if (isCategorical(spec)) {
      const i = spec.values.findIndex((v) => jsonEqual(v, current));
      const shift = rng.next() < 0.5 ? -1 : 1;
      out[path] = i < 0 ? sampleParam(spec, rng) : spec.values[Math.min(spec.values.length - 1, Math.max(0, i + shift))]!;
    } else {
      const factor = PBT_PERTURBATION_FACTORS[rng.next() < 0.5 ? 0 : 1];
      out[path] = typeof current === 'number' ? legalNumber(spec, current * factor) : sampleParam(spec, rng);
    }
  }
  return out;
}

/**
 * Population-based training (Jaderberg et al. 2017; Ray Tune's PopulationBasedTraining,
 * truncation selection). When a trial reports at a step at least `perturbation_interval` past its
 * last perturbation, the active trials with a score are ranked by their latest score; with
 * n = ceil(count·quantile), capped at floor(count/2), a trial among the bottom n exploits one of the
 * top n (uniformly at random): it continues from the donor's latest checkpoint with
 * {@link exploreParams} of the donor's params. Any other trial continues. Decision k draws from
 * `SeededRandom(mixSeed(seed, k))`.
 */
export class PbtScheduler implements TrialScheduler {
  readonly name = 'pbt';
  private readonly options: z.infer<typeof PbtSchedulerOptionsSchema>;
  private readonly mutations: string[];
  private trials = new Map<string, PbtTrial>();
  private decisions = 0;

  constructor(private readonly ctx: SchedulerContext, options: unknown) {
    this.options = parseSchedulerOptions(PbtSchedulerOptionsSchema, options, 'pbt');
    this.mutations = this.options.mutations ?? Object.keys(ctx.space);
    for (const path of this.mutations) {
      if (!Object.hasOwn(ctx.space, path)) {
        throw new CrowdtrainError('INVALID_CONFIG', `scheduler.mutations: ${path} is not a parameter of the space (its parameters: ${Object.keys(ctx.space).join(', ')})`);
      }
    }
  }

  onTrialAdd(trialId: string, params: Suggestion): void {
    this.trials.set(trialId, { id: trialId, params: { ...params }, score: null, step: 0, lastPerturbation: 0, active: true });
  }

  /** A trial's current params (after any exploitation). */
  paramsOf(trialId: string): Suggestion | undefined {
    return this.trials.get(trialId)?.params;
  }

  onResult(trialId: string, step: number, value: number): SchedulerDecision {
    if (!Number.isFinite(value)) return 'stop';
    const trial = this.trials.get(trialId);
    if (!trial) throw new CrowdtrainError('INVALID_CONFIG', `pbt: result for trial ${trialId}, which was never added`);
    trial.score = asScore(value, this.ctx.mode);
    trial.step = step;
    if (step - trial.lastPerturbation < this.options.perturbation_interval) return 'continue';
    trial.lastPerturbation = step;
    const ranked = [...this.trials.values()].filter((t) => t.active && t.score !== null).sort((a, b) => a.score! - b.score!);
    let n = Math.ceil(ranked.length * this.options.quantile);
    if (n > ranked.length / 2) n = Math.floor(ranked.length / 2);
    if (n === 0) return 'continue';
    const bottom = ranked.slice(0, n);
    const top = ranked.slice(ranked.length - n);
    if (!bottom.includes(trial)) return 'continue';
    const rng = new SeededRandom(mixSeed(this.ctx.seed, this.decisions++));
    const donor = top[rng.int(top.length)]!;
    const params = exploreParams(donor.params, this.ctx.space, this.mutations, this.options.resample_probability, rng);
    trial.params = { ...params };
    trial.score = donor.score;
    return { exploit: donor.id, params };
  }

  onTrialEnd(trialId: string): void {
    const trial = this.trials.get(trialId);
    if (trial) trial.active = false;
  }

  state(): z.infer<typeof PbtStateSchema> {
    return structuredClone({ scheduler: 'pbt' as const, decisions: this.decisions, trials: [...this.trials.values()] });
  }

  load(raw: unknown): void {
    const state = parseSchedulerState(PbtStateSchema, raw, 'pbt');
    this.decisions = state.decisions;
    this.trials = new Map(state.trials.map((t) => [t.id, { ...t, params: { ...(t.params as Record<string, JsonValue>) } }]));
  }
}
