import createDebug from 'debug';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';

const debug = createDebug('crowdtrain:metrics');

/** One metric point. */
export interface MetricPoint {
  key: string;
  step: number;
  value: number;
  time?: Date;
}

/**
 * Batches metric points and writes them in one insert per flush, so per-step logging costs one
 * database round trip per second rather than one per value.
 */
export class MetricBuffer {
  private points: MetricPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: TrackingStore,
    private readonly runId: string,
    private readonly flushEveryMs = 1000,
    private readonly maxPoints = 500,
  ) {}

  /** Adds points; a non-finite value (e.g. the eval loss of a diverged model) is dropped so that it cannot fail the whole batched write. */
  add(points: MetricPoint[]): void {
    for (const p of points) if (Number.isFinite(p.value)) this.points.push({ ...p, time: p.time ?? new Date() });
    if (this.points.length >= this.maxPoints) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushEveryMs);
      this.timer.unref();
    }
  }

  /** Writes everything buffered; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.points;
    this.points = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.logMetrics(this.runId, batch);
      } catch (err) {
        debug('metric flush of %d points failed: %O', batch.length, err);
      }
    });
    return this.flushing;
  }
}
