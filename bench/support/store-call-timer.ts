/**
 * Counts and times the calls a TrackingStore serves (each one is a database round trip or a
 * transaction), to see what the tracking writes cost the coordinator per training step.
 */
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';

/** Calls and total time (ms, from call to settled promise) per store method. */
export type StoreCallTimes = Record<string, { calls: number; totalMs: number }>;

/** A running timer over one store instance. */
export interface StoreCallTimer {
  /** Starts (or restarts from zero) counting. */
  start(): void;
  /** Stops counting and returns what was counted since start(). */
  stop(): StoreCallTimes;
  /** Puts the store's own methods back. */
  restore(): void;
}

/**
 * Wraps every method of `store` (own instance properties shadow the prototype's; restore() removes
 * them). Counting is off until start().
 * @example const timer = timeStoreCalls(coordinator.store); timer.start(); ...; const t = timer.stop(); timer.restore();
 */
export function timeStoreCalls(store: TrackingStore, now: () => number = () => performance.now()): StoreCallTimer {
  const proto = Object.getPrototypeOf(store) as Record<string, unknown>;
  const target = store as unknown as Record<string, unknown>;
  const names = Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && typeof proto[n] === 'function');
  let counting = false;
  let times: StoreCallTimes = {};
  const add = (name: string, ms: number): void => {
    if (!counting) return;
    const e = (times[name] ??= { calls: 0, totalMs: 0 });
    e.calls += 1;
    e.totalMs += ms;
  };
  for (const name of names) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    target[name] = function timed(this: unknown, ...args: unknown[]): unknown {
      const t0 = now();
      const result = original.apply(store, args);
      if (result instanceof Promise) {
        return result.finally(() => add(name, now() - t0));
      }
      add(name, now() - t0);
      return result;
    };
  }
  return {
    start: () => {
      times = {};
      counting = true;
    },
    stop: () => {
      counting = false;
      return times;
    },
    restore: () => {
      for (const name of names) delete target[name];
    },
  };
}
