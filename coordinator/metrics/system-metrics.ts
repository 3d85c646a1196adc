import { EventLoopMonitor, type EventLoopDelay } from './event-loop-monitor.ts';

/** Metric keys of the coordinator's own health, logged with each active run's metrics. */
export const SYSTEM_METRIC_KEYS = {
  /** p99 of the coordinator's event-loop delay over the last window, in ms. */
  eventLoopP99: 'sys/coordinator_event_loop_p99_ms',
  /** Largest event-loop delay over the last window, in ms. */
  eventLoopMax: 'sys/coordinator_event_loop_max_ms',
} as const;

/** Default length of a system-metric window: one point per key at most this often. */
export const SYSTEM_METRICS_EVERY_MS = 10_000;

/** How a {@link SystemMetricSampler} is paced. */
export interface SystemMetricSamplerOptions {
  /** Shortest window between two points, in ms (default {@link SYSTEM_METRICS_EVERY_MS}). */
  everyMs?: number;
  /** The clock, in ms (default `performance.now`). */
  now?: () => number;
  /** The event-loop monitor to read (default: a new one of its own). */
  monitor?: EventLoopMonitor;
}

/**
 * Decides when a run logs the coordinator's system metrics and what they are: at most one point
 * per key per window of `everyMs`, taken when the run records an update (so a point always has
 * the run's current step, and a run that applies no update logs none). The first call starts
 * the window and the event-loop monitor; {@link stop} ends them.
 * @example
 * const sys = new SystemMetricSampler();
 * const due = sys.due(); // null, or { 'sys/coordinator_event_loop_p99_ms': 3.1, ... }
 */
export class SystemMetricSampler {
  private readonly everyMs: number;
  private readonly now: () => number;
  private readonly monitor: EventLoopMonitor;
  private windowStart: number | null = null;
  private last: EventLoopDelay | null = null;

  constructor(opts: SystemMetricSamplerOptions = {}) {
    this.everyMs = opts.everyMs ?? SYSTEM_METRICS_EVERY_MS;
    if (!(this.everyMs > 0)) throw new RangeError(`system metrics window must be > 0 ms, got ${this.everyMs}`);
    this.now = opts.now ?? (() => performance.now());
    this.monitor = opts.monitor ?? new EventLoopMonitor();
  }

  /** The system metrics whose window has ended (and starts the next one), or null when none is due. */
  due(): Record<string, number> | null {
    const t = this.now();
    if (this.windowStart === null) {
      this.windowStart = t;
      this.monitor.start();
      this.monitor.takeWindow();
      return null;
    }
    if (t - this.windowStart < this.everyMs) return null;
    this.windowStart = t;
    const d = this.monitor.takeWindow();
    if (!d) return null;
    this.last = d;
    return { [SYSTEM_METRIC_KEYS.eventLoopP99]: d.p99Ms, [SYSTEM_METRIC_KEYS.eventLoopMax]: d.maxMs };
  }

  /** The event-loop delay of the last completed window, or null before the first. */
  get latest(): EventLoopDelay | null {
    return this.last;
  }

  /** Stops the event-loop monitor (idempotent); a later {@link due} starts a new first window. */
  stop(): void {
    this.monitor.stop();
    this.windowStart = null;
  }
}
