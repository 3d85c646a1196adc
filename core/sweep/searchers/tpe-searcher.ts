import { z } from 'zod';
import { mixSeed, SeededRandom } from '../../data/seeded-random.ts';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/messages.ts';
import {
  isCategorical,
  isLogScale,
  jsonEqual,
  legalNumber,
  sampleSpace,
  type JsonValue,
  type NumericParamSpec,
  type ParamSpec,
  type Suggestion,
} from '../search-space.ts';
import { CategoricalParzenEstimator, NumericParzenEstimator, tpeWeights } from './parzen-estimator.ts';
import { asLoss, TrialHistory, type Searcher, type SearcherContext, type SearcherState, type TrialRecord } from './searcher.ts';

/** Options of the TPE searcher (Optuna's TPESampler defaults). */
export const TpeSearcherOptionsSchema = z.strictObject({
  /** Trials drawn at random before TPE models anything (finished trials, plus pending ones under the constant liar). */
  n_startup_trials: z.number().int().min(1).max(10_000).default(10),
  /** Candidates drawn from l(x) per parameter; the one with the largest l(x)/g(x) wins. */
  n_ei_candidates: z.number().int().min(1).max(10_000).default(24),
  /** The fraction of trials in the good group: n_good = min(ceil(gamma·n), 25). */
  gamma: z.number().gt(0).lt(1).default(0.1),
  /** Weight of the prior component of every estimator. */
  prior_weight: z.number().positive().max(1000).default(1),
  /** Pending (suggested, unfinished) trials count as the worst value, in the bad group: parallel suggestions spread out. */
  constant_liar: z.boolean().default(true),
});

/** Validated TPE options. */
export type TpeSearcherOptions = z.infer<typeof TpeSearcherOptionsSchema>;

/** The interval TPE models a numeric parameter on: log scale for log parameters, ±0.5 around integers. */
function modelInterval(p: NumericParamSpec): { low: number; high: number } {
  if (isLogScale(p)) return { low: Math.log(p.low), high: Math.log(p.high) };
  if (p.type === 'int') return { low: p.low - 0.5, high: p.high + 0.5 };
  return { low: p.low, high: p.high };
}

/** A parameter value on the modelled interval (clamped into it). */
function toModel(p: NumericParamSpec, value: number): number {
  const { low, high } = modelInterval(p);
  return Math.min(high, Math.max(low, isLogScale(p) ? Math.log(value) : value));
}

/** A point of the modelled interval as a legal parameter value. */
function fromModel(p: NumericParamSpec, x: number): number {
  return legalNumber(p, isLogScale(p) ? Math.exp(x) : x);
}

/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011; Optuna's univariate TPESampler). After
 * `n_startup_trials` random suggestions, the finished trials are split by value: the best
 * n_good = min(ceil(gamma·n), 25) form the good group, the rest (and, with the constant liar, every
 * pending trial, as if it had the worst value) the bad group. Per parameter, a Parzen estimator
 * l(x) is fitted to the good group and g(x) to the bad one (weights by {@link tpeWeights} in trial
 * order plus a prior); `n_ei_candidates` points are drawn from l and the one maximising
 * log l(x) − log g(x) (the expected-improvement ratio) is suggested. Suggestion n draws from
 * `SeededRandom(mixSeed(seed, n))`, so its result depends only on the seed, n and the history.
 */
export class TpeSearcher implements Searcher {
  readonly name = 'tpe';
  private readonly history = new TrialHistory('tpe');
  private readonly options: TpeSearcherOptions;

  constructor(private readonly ctx: SearcherContext, options: unknown = {}) {
    const parsed = TpeSearcherOptionsSchema.safeParse(options);
    if (!parsed.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid tpe options: ${describeZodError(parsed.error)}`);
    this.options = parsed.data;
  }

  suggest(trialId: string): Suggestion {
    const rng = new SeededRandom(mixSeed(this.ctx.seed, this.history.suggested));
    const params = this.modelled(rng) ?? sampleSpace(this.ctx.space, rng);
    this.history.add(trialId, params);
    return params;
  }

  /** The TPE suggestion, or null while in the random start-up phase. */
  private modelled(rng: SeededRandom): Suggestion | null {
    const trials = this.history.all();
    const done = trials.filter((t) => t.status === 'done');
    const pending = this.options.constant_liar ? trials.filter((t) => t.status === 'pending') : [];
    const n = done.length + pending.length;
    if (n < this.options.n_startup_trials || done.length === 0) return null;
    const nGood = Math.min(Math.ceil(this.options.gamma * n), 25, done.length);
    // Stable sort by loss; ties keep trial order.
    const ranked = [...done].sort((a, b) => asLoss(a.value!, this.ctx.mode) - asLoss(b.value!, this.ctx.mode));
    const goodIds = new Set(ranked.slice(0, nGood).map((t) => t.id));
    // Both groups in trial order, as Optuna weights them.
    const good = trials.filter((t) => goodIds.has(t.id));
    const bad = trials.filter((t) => !goodIds.has(t.id) && (t.status === 'done' || pending.includes(t)));
    const out: Record<string, JsonValue> = {};
    for (const [path, p] of Object.entries(this.ctx.space)) out[path] = this.suggestParam(path, p, good, bad, rng);
    return out;
  }

  /** The EI-maximising candidate for one parameter. */
  private suggestParam(path: string, p: ParamSpec, good: readonly TrialRecord[], bad: readonly TrialRecord[], rng: SeededRandom): JsonValue {
    const { n_ei_candidates: candidates, prior_weight: priorWeight } = this.options;
    if (isCategorical(p)) {
      const index = (t: TrialRecord) => {
        const i = p.values.findIndex((v) => jsonEqual(v, t.params[path] ?? null));
        return i;
      };
      const goodIdx = good.map(index).filter((i) => i >= 0);
      const badIdx = bad.map(index).filter((i) => i >= 0);
      const l = new CategoricalParzenEstimator(goodIdx, tpeWeights(goodIdx.length), p.values.length, priorWeight);
      const g = new CategoricalParzenEstimator(badIdx, tpeWeights(badIdx.length), p.values.length, priorWeight);
      let best = l.sample(rng);
      let bestScore = l.logPdf(best) - g.logPdf(best);
      for (let i = 1; i < candidates; i++) {
        const c = l.sample(rng);
        const score = l.logPdf(c) - g.logPdf(c);
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      return p.values[best]!;
    }
    const { low, high } = modelInterval(p);
    const values = (ts: readonly TrialRecord[]) => ts.map((t) => t.params[path]).filter((v): v is number => typeof v === 'number').map((v) => toModel(p, v));
    const goodX = values(good);
    const badX = values(bad);
    const l = new NumericParzenEstimator(goodX, tpeWeights(goodX.length), low, high, priorWeight);
    const g = new NumericParzenEstimator(badX, tpeWeights(badX.length), low, high, priorWeight);
    let best = l.sample(rng);
    let bestScore = l.logPdf(best) - g.logPdf(best);
    for (let i = 1; i < candidates; i++) {
      const c = l.sample(rng);
      const score = l.logPdf(c) - g.logPdf(c);
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    return fromModel(p, best);
  }

  observe(trialId: string, value: number | null): void {
    this.history.observe(trialId, value);
  }

  state(): SearcherState {
    return this.history.state();
  }

  load(state: unknown): void {
    this.history.load(state);
  }
}
