import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay over one window, in milliseconds. */
export interface EventLoopDelay {
  /** 99th percentile of the delays sampled in the window. */
  p99Ms: number;
  /** Largest delay sampled in the window. */
  maxMs: number;
  /** Mean delay. */
  meanMs: number;
  /** Delays sampled (one per `resolutionMs` while the loop turns; a blocked loop yields one long sample). */
  samples: number;
}

/** Default sampling resolution of {@link EventLoopMonitor}, in ms (node's default is 10). */
export const EVENT_LOOP_RESOLUTION_MS = 10;

const NS_PER_MS = 1e6;

/**
 * Measures how late this thread's event loop runs timers, with node's `monitorEventLoopDelay`
 * (a histogram fed by a libuv timer; it keeps no process alive). Each monitor has its own
 * histogram: a run, a test or a bench can measure its own window without touching the others'.
 * @example
 * const loop = new EventLoopMonitor().start();
 * // ... work ...
 * const { p99Ms, maxMs } = loop.takeWindow(); // and a new window starts
 * loop.stop();
 */
export class EventLoopMonitor {
  private readonly histogram: IntervalHistogram;
  private running = false;

  constructor(resolutionMs = EVENT_LOOP_RESOLUTION_MS) {
    if (!Number.isInteger(resolutionMs) || resolutionMs < 1) throw new RangeError(`event-loop monitor resolution must be a positive integer of ms, got ${resolutionMs}`);
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  /** Starts sampling (idempotent); returns the monitor. */
  start(): this {
    if (!this.running) {
      this.running = true;
      this.histogram.enable();
    }
    return this;
  }

  /** Whether it is sampling. */
  get isRunning(): boolean {
    return this.running;
  }

  /** The delays of the current window (since start or the last {@link takeWindow}); null before any sample. */
  current(): EventLoopDelay | null {
    const h = this.histogram;
    if (h.count === 0) return null;
    return { p99Ms: h.percentile(99) / NS_PER_MS, maxMs: h.max / NS_PER_MS, meanMs: h.mean / NS_PER_MS, samples: h.count };
  }

  /** {@link current}, then starts a new window. */
  takeWindow(): EventLoopDelay | null {
    const d = this.current();
    this.histogram.reset();
    return d;
  }

  /** Stops sampling (idempotent); the current window stays readable. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.histogram.disable();
  }
}
