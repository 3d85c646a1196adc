import { setTimeout as sleep } from 'node:timers/promises';
import { EventLoopMonitor, type EventLoopDelay } from '../../../coordinator/metrics/event-loop-monitor.ts';

/** What {@link pollHealthz} saw: answers (200), failures (anything else) and the longest wait, in ms. */
export interface HealthzProbe {
  answered: number;
  failed: number;
  longestMs: number;
}

/** Polls `/healthz` one request at a time until stopped; counts answers and the longest wait. */
export function pollHealthz(baseUrl: string): { stop: () => Promise<HealthzProbe> } {
  let stopped = false;
  let answered = 0;
  let failed = 0;
  let longestMs = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/healthz`).catch(() => null);
      longestMs = Math.max(longestMs, performance.now() - started);
      if (res?.status === 200) answered++;
      else failed++;
      await res?.arrayBuffer();
      await sleep(20);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { answered, failed, longestMs };
    },
  };
}

/** How responsive the coordinator stayed over a window: this process's event-loop delay and the `/healthz` probe. */
export interface Responsiveness {
  /** The event-loop delay over the window; null when nothing was sampled. */
  delay: EventLoopDelay | null;
  probe: HealthzProbe;
}

/**
 * Starts measuring this process's event-loop delay and polling the coordinator's `/healthz`
 * at `baseUrl`, until `stop()`, which returns both.
 * @example
 * const watch = watchResponsiveness(c.url);
 * // ... load the coordinator ...
 * const { delay, probe } = await watch.stop();
 */
export function watchResponsiveness(baseUrl: string): { stop: () => Promise<Responsiveness> } {
  const loop = new EventLoopMonitor().start();
  const health = pollHealthz(baseUrl);
  return {
    async stop() {
      const delay = loop.takeWindow();
      loop.stop();
      const probe = await health.stop();
      return { delay, probe };
    },
  };
}
