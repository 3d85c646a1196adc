import type { z } from 'zod';
import { GridSearcher, GridSearcherOptionsSchema } from './grid-searcher.ts';
import { RandomSearcher, RandomSearcherOptionsSchema } from './random-searcher.ts';
import type { Searcher, SearcherContext } from './searcher.ts';
import { TpeSearcher, TpeSearcherOptionsSchema } from './tpe-searcher.ts';

export type { Searcher, SearcherContext, SearcherState, SweepMode } from './searcher.ts';

/** One search algorithm of the registry: its options (the sweep config's `searcher: { type, ... }`) and its factory. */
export interface SearcherKind {
  /** Its options, without `type`. */
  optionsSchema: z.ZodObject;
  /** A fresh searcher (options already validated by `optionsSchema`). */
  create(ctx: SearcherContext, options: Record<string, unknown>): Searcher;
}

/**
 * The search algorithms: the one list the sweep config's `searcher.type` enum derives from.
 * A new searcher is one file plus one line here.
 */
export const SEARCHERS = {
  grid: { optionsSchema: GridSearcherOptionsSchema, create: (ctx) => new GridSearcher(ctx) },
  random: { optionsSchema: RandomSearcherOptionsSchema, create: (ctx) => new RandomSearcher(ctx) },
  tpe: { optionsSchema: TpeSearcherOptionsSchema, create: (ctx, options) => new TpeSearcher(ctx, options) },
} satisfies Record<string, SearcherKind>;

/** A searcher's registry name. */
export type SearcherName = keyof typeof SEARCHERS;

/** The searcher names, in registry order. */
export const SEARCHER_NAMES = Object.keys(SEARCHERS) as [SearcherName, ...SearcherName[]];
