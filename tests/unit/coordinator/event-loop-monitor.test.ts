import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EventLoopMonitor } from '../../../coordinator/metrics/event-loop-monitor.ts';
import { SYSTEM_METRIC_KEYS, SystemMetricSampler } from '../../../coordinator/metrics/system-metrics.ts';

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: the event loop cannot turn
  }
}

describe('EventLoopMonitor', () => {
  it('sees a blocked loop: the max delay covers the block, and a new window starts empty', async () => {
    const loop = new EventLoopMonitor(5).start();
    expect(loop.isRunning).toBe(true);
    await sleep(30);
    blockFor(80);
    await sleep(30);
    const d = loop.takeWindow();
    expect(d).not.toBeNull();
    expect(d!.maxMs).toBeGreaterThanOrEqual(60);
    expect(d!.p99Ms).toBeLessThanOrEqual(d!.maxMs);
    expect(d!.samples).toBeGreaterThan(1);
    expect(loop.current()).toBeNull();
    loop.stop();
    loop.stop();
    expect(loop.isRunning).toBe(false);
  });

  it('refuses a resolution that is not a positive integer of ms', () => {
    expect(() => new EventLoopMonitor(0)).toThrow(/positive integer of ms, got 0/);
    expect(() => new EventLoopMonitor(2.5)).toThrow(/got 2.5/);
  });
});

describe('SystemMetricSampler', () => {
  it('logs the event-loop p99 and max once per window, on the clock it is given', async () => {
    let now = 1000;
    const monitor = new EventLoopMonitor(5);
    const sys = new SystemMetricSampler({ everyMs: 10_000, now: () => now, monitor });
    expect(sys.due()).toBeNull(); // the first call opens the window
    expect(monitor.isRunning).toBe(true);
    await sleep(30);
    blockFor(50);
    await sleep(20);
    now += 9_999;
    expect(sys.due()).toBeNull();
    expect(sys.latest).toBeNull();
    now += 1;
    const due = sys.due();
    expect(Object.keys(due ?? {}).sort()).toEqual([SYSTEM_METRIC_KEYS.eventLoopMax, SYSTEM_METRIC_KEYS.eventLoopP99].sort());
    expect(due![SYSTEM_METRIC_KEYS.eventLoopMax]).toBeGreaterThanOrEqual(40);
    expect(sys.latest?.maxMs).toBe(due![SYSTEM_METRIC_KEYS.eventLoopMax]);
    // The next window starts now.
    now += 5_000;
    expect(sys.due()).toBeNull();
    sys.stop();
    expect(monitor.isRunning).toBe(false);
  });

  it('refuses a window that is not positive', () => {
    expect(() => new SystemMetricSampler({ everyMs: 0 })).toThrow(/window must be > 0 ms, got 0/);
  });
});
