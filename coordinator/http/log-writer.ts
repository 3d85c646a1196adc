import { setImmediate as nextTurn } from 'node:timers/promises';
import { flattenParams, type MetricPointInput, type TrackingStore } from '../../prisma/queries/tracking-store.ts';

/**
 * Event-loop time one database write of a logged batch aims at. On SQLite the driver is
 * synchronous: a write holds the event loop for its whole duration (a param is one upsert, about
 * 0.3-2 ms; a metric point 0.05-0.3 ms of a `createMany`, depending on the machine's load), so the
 * writer sizes its chunks from the time the last write took.
 */
export const WRITE_BUDGET_MS = 10;
/** Most params in one write (the first write has {@link FIRST_WRITE_ROWS}). */
export const MAX_PARAMS_PER_WRITE = 100;
/** Most metric points in one write. */
export const MAX_METRICS_PER_WRITE = 1000;
/** Rows of the first write of a batch, before any timing is known. */
export const FIRST_WRITE_ROWS = 10;

/** The store methods a {@link LogBatchWriter} uses. */
export type LogStore = Pick<TrackingStore, 'logParams' | 'logMetrics'>;

/** Chunk sizes of a {@link LogBatchWriter}. */
export interface LogBatchWriterOptions {
  /** Event-loop time one write aims at, in ms (default {@link WRITE_BUDGET_MS}). */
  budgetMs?: number;
  /** Most params per write (default {@link MAX_PARAMS_PER_WRITE}). */
  maxParamsPerWrite?: number;
  /** Most metric points per write (default {@link MAX_METRICS_PER_WRITE}). */
  maxMetricsPerWrite?: number;
}

/** Lets the event loop turn once (timers, sockets, other requests) before the caller goes on. */
export function yieldToEventLoop(): Promise<void> {
  return nextTurn();
}

function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}

/**
 * Sizes successive chunks so that each write takes about `budgetMs`: the next size is the budget
 * over the last write's time per row, at most twice the last size and within [1, max].
 */
export class ChunkSizer {
  private next: number;

  constructor(
    private readonly budgetMs: number,
    private readonly max: number,
    first = FIRST_WRITE_ROWS,
  ) {
    if (!(budgetMs > 0)) throw new RangeError(`write budget must be > 0 ms, got ${budgetMs}`);
    positiveInt('max rows per write', max);
    this.next = Math.min(positiveInt('first write rows', first), max);
  }

  /** Rows of the next write. */
  get size(): number {
    return this.next;
  }

  /** Notes that a write of `rows` rows took `ms`. */
  observe(rows: number, ms: number): void {
    const fit = ms > 0 ? Math.floor((this.budgetMs * rows) / ms) : this.max;
    this.next = Math.max(1, Math.min(this.max, 2 * rows, fit));
  }
}

/**
 * Writes a validated `POST /runs/:id/log` batch through the store's own methods in small
 * chunks, letting the event loop turn between chunks, so that one maximal batch (10,000 params,
 * 10,000 points) never holds the coordinator for more than one chunk: sockets, `/healthz` and
 * training go on while it is written. The rows are the ones one `logParams` / `logMetrics` call
 * writes (params flatten to the same dotted keys and texts, in the same order: a key given twice
 * keeps its last value). Each chunk is its own transaction: a database failure midway leaves the
 * chunks before it written (re-sending params is idempotent; re-sent points are added again).
 * @example
 * const writer = new LogBatchWriter(store);
 * await writer.writeParams(runId, { optimizer: { lr: 0.1 } });
 * await writer.writeMetrics(runId, [{ key: 'loss', step: 1, value: 2.3 }]);
 */
export class LogBatchWriter {
  private readonly budgetMs: number;
  private readonly maxParams: number;
  private readonly maxMetrics: number;
  /** Rows per write of each chunk written, in order (for tests and benches). */
  readonly writes: { kind: 'params' | 'metrics'; rows: number; ms: number }[] = [];

  constructor(
    private readonly store: LogStore,
    opts: LogBatchWriterOptions = {},
  ) {
    this.budgetMs = opts.budgetMs ?? WRITE_BUDGET_MS;
    this.maxParams = positiveInt('maxParamsPerWrite', opts.maxParamsPerWrite ?? MAX_PARAMS_PER_WRITE);
    this.maxMetrics = positiveInt('maxMetricsPerWrite', opts.maxMetricsPerWrite ?? MAX_METRICS_PER_WRITE);
  }

  /** Logs params (nested objects flatten to dotted keys, as `logParams` does); resolves with the number of flat keys written. */
  async writeParams(runId: string, params: Record<string, unknown>): Promise<number> {
    await yieldToEventLoop();
    const flat = flattenParams(params);
    // Flat keys with text values: logParams stores them as they are (a text is never re-encoded).
    await this.inChunks('params', flat, new ChunkSizer(this.budgetMs, this.maxParams), (chunk) => this.store.logParams(runId, Object.fromEntries(chunk)));
    return flat.length;
  }

  /** Logs metric points (validated by `logMetrics`, chunk by chunk). */
  async writeMetrics(runId: string, points: readonly MetricPointInput[]): Promise<void> {
    await this.inChunks('metrics', points, new ChunkSizer(this.budgetMs, this.maxMetrics), (chunk) => this.store.logMetrics(runId, chunk));
  }

  private async inChunks<T>(kind: 'params' | 'metrics', rows: readonly T[], sizer: ChunkSizer, write: (chunk: T[]) => Promise<void>): Promise<void> {
    for (let i = 0; i < rows.length; ) {
      await yieldToEventLoop();
      const chunk = rows.slice(i, i + sizer.size);
      const started = performance.now();
      await write(chunk);
      const ms = performance.now() - started;
      sizer.observe(chunk.length, ms);
      this.writes.push({ kind, rows: chunk.length, ms });
      i += chunk.length;
    }
  }
}
