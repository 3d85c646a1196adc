import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/messages.ts';
import type { JsonValue, SearchSpace, Suggestion } from '../search-space.ts';

/** Whether the sweep minimises or maximises its metric. */
export type SweepMode = 'min' | 'max';

/** What every searcher is built from: the space, the sweep's seed and objective direction. */
export interface SearcherContext {
  space: SearchSpace;
  seed: number;
  mode: SweepMode;
}

/**
 * A search algorithm (Optuna's sampler, Ray Tune's Searcher): suggests each new trial's params from
 * what it has seen. Deterministic for a seed: the same calls give the same suggestions, and
 * `load(state())` on a fresh instance continues exactly where the saved one was.
 */
export interface Searcher {
  /** The registry name (`grid`, `random`, `tpe`). */
  readonly name: string;
  /** The params of a new trial `trialId`, or null when the searcher has nothing left to try (a finished grid). */
  suggest(trialId: string): Suggestion | null;
  /** The trial's final metric value (as reported, whatever the mode); null or non-finite: it failed and gives no information. */
  observe(trialId: string, value: number | null): void;
  /** Everything the searcher knows, as plain JSON. */
  state(): SearcherState;
  /** Restores {@link state}'s output (validated; CrowdtrainError('INVALID_CONFIG') naming the bad field). */
  load(state: unknown): void;
}

/** One suggested trial as a searcher remembers it. */
export const TrialRecordSchema = z.strictObject({
  id: z.string().min(1),
  params: z.record(z.string(), z.json()),
  /** pending: suggested, not yet observed; done: has a value; failed: observed without one. */
  status: z.enum(['pending', 'done', 'failed']),
  value: z.number().finite().nullable(),
});

/** A trial as a searcher remembers it. */
export type TrialRecord = Omit<z.infer<typeof TrialRecordSchema>, 'params'> & { params: Record<string, JsonValue> };

/** The saved state of every searcher: its name, how many suggestions it made, and the trials. */
export const SearcherStateSchema = z.strictObject({
  searcher: z.string().min(1),
  suggested: z.number().int().nonnegative(),
  trials: z.array(TrialRecordSchema),
});

/** A searcher's state as plain JSON. */
export type SearcherState = { searcher: string; suggested: number; trials: TrialRecord[] };

/**
 * The bookkeeping every searcher shares: the trials it suggested, in order, with their values,
 * and the count of suggestions (each suggestion draws from its own seeded stream, `mixSeed(seed, n)`).
 */
export class TrialHistory {
  private trials: TrialRecord[] = [];
  private byId = new Map<string, TrialRecord>();
  /** Suggestions made so far (the index of the next one). */
  suggested = 0;

  constructor(private readonly searcher: string) {}

  /** Records a new suggestion; refuses a trial id it has already seen. */
  add(trialId: string, params: Suggestion): void {
    if (this.byId.has(trialId)) throw new CrowdtrainError('INVALID_CONFIG', `trial ${trialId} was already suggested`);
    const record: TrialRecord = { id: trialId, params: { ...params }, status: 'pending', value: null };
    this.trials.push(record);
    this.byId.set(trialId, record);
    this.suggested++;
  }

  /** Records a trial's final value; a null or non-finite value marks it failed. */
  observe(trialId: string, value: number | null): void {
    const record = this.byId.get(trialId);
    if (!record) throw new CrowdtrainError('INVALID_CONFIG', `trial ${trialId} was never suggested by the ${this.searcher} searcher`);
    if (value === null || !Number.isFinite(value)) {
      record.status = 'failed';
      record.value = null;
    } else {
      record.status = 'done';
      record.value = value;
    }
  }

  /** Every trial, in suggestion order. */
  all(): readonly TrialRecord[] {
    return this.trials;
  }

  /** The history as plain JSON (a deep copy). */
  state(): SearcherState {
    return structuredClone({ searcher: this.searcher, suggested: this.suggested, trials: this.trials });
  }

  /** Replaces the history with a saved one (validated). */
  load(raw: unknown): void {
    const parsed = SearcherStateSchema.safeParse(raw);
    if (!parsed.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid ${this.searcher} searcher state: ${describeZodError(parsed.error)}`);
    const state = parsed.data;
    if (state.searcher !== this.searcher) {
      throw new CrowdtrainError('INVALID_CONFIG', `searcher state was saved by the ${state.searcher} searcher, not ${this.searcher}`);
    }
    if (state.suggested < state.trials.length) {
      throw new CrowdtrainError('INVALID_CONFIG', `searcher state lists ${state.trials.length} trials but only ${state.suggested} suggestions`);
    }
    this.trials = state.trials.map((t) => ({ ...t, params: { ...t.params } }));
    this.byId = new Map(this.trials.map((t) => [t.id, t]));
    if (this.byId.size !== this.trials.length) throw new CrowdtrainError('INVALID_CONFIG', 'searcher state lists a trial id twice');
    this.suggested = state.suggested;
  }
}

/** A value oriented so that lower is better (a loss): the value itself under `min`, its negation under `max`. */
export function asLoss(value: number, mode: SweepMode): number {
  return mode === 'min' ? value : -value;
}
