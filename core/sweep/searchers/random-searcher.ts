import { z } from 'zod';
import { mixSeed, SeededRandom } from '../../data/seeded-random.ts';
import { sampleSpace, type Suggestion } from '../search-space.ts';
import { TrialHistory, type Searcher, type SearcherContext, type SearcherState } from './searcher.ts';

/** The random searcher has no options. */
export const RandomSearcherOptionsSchema = z.strictObject({});

/**
 * Random search (Bergstra & Bengio 2012): every parameter drawn independently from its
 * distribution; suggestion n draws from its own stream `SeededRandom(mixSeed(seed, n))`, so the
 * n-th suggestion depends only on the seed and n.
 */
export class RandomSearcher implements Searcher {
  readonly name = 'random';
  private readonly history = new TrialHistory('random');

  constructor(private readonly ctx: SearcherContext) {}

  suggest(trialId: string): Suggestion {
    const params = sampleSpace(this.ctx.space, new SeededRandom(mixSeed(this.ctx.seed, this.history.suggested)));
    this.history.add(trialId, params);
    return params;
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
