import { z } from 'zod';
import { gridPoint, gridSize, type Suggestion } from '../search-space.ts';
import { TrialHistory, type Searcher, type SearcherContext, type SearcherState } from './searcher.ts';

/** The grid searcher has no options. */
export const GridSearcherOptionsSchema = z.strictObject({});

/**
 * Grid search: the points of the product of every parameter's values (all must be `grid` or
 * `choice`), each exactly once, in itertools.product order; then nothing more (suggest → null).
 */
export class GridSearcher implements Searcher {
  readonly name = 'grid';
  private readonly history = new TrialHistory('grid');
  /** The number of grid points. */
  readonly size: number;

  constructor(private readonly ctx: SearcherContext) {
    this.size = gridSize(ctx.space);
  }

  suggest(trialId: string): Suggestion | null {
    if (this.history.suggested >= this.size) return null;
    const params = gridPoint(this.ctx.space, this.history.suggested);
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
