'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { MetricHistorySchema, MetricKeysSchema } from '../../core/api/index.ts';
import type { XY } from './chart-math.ts';
import { getJson } from './fetch-api.ts';

/** Metric keys shown first, in this order; any other logged key follows alphabetically. */
export const PREFERRED_METRIC_ORDER = [
  'train_loss',
  'eval_loss',
  'eval_accuracy',
  'train_accuracy',
  'lr',
  'samples_per_sec',
  'step_time_ms',
  'active_workers',
  'bytes_in',
  'bytes_out',
  'grad_norm',
] as const;

/** Sorts metric keys: preferred ones first, then the rest alphabetically. */
export function orderMetricKeys(keys: readonly string[]): string[] {
  const rank = (k: string) => {
    const i = (PREFERRED_METRIC_ORDER as readonly string[]).indexOf(k);
    return i === -1 ? PREFERRED_METRIC_ORDER.length : i;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Every metric curve of a run, loaded once and then extended incrementally (`after_step`) each
 * time `refresh()` is called — the run page calls it on live progress events.
 */
export function useRunMetrics(runId: string): {
  series: Map<string, XY[]>;
  error: string | null;
  refresh: () => void;
  append: (points: readonly { key: string; step: number; value: number }[]) => void;
} {
  const [series, setSeries] = useState<Map<string, XY[]>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const data = useRef(new Map<string, XY[]>());
  const busy = useRef(false);
  const again = useRef(false);

  const load = useCallback(async () => {
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    try {
      do {
        again.current = false;
        const keys = await getJson(`/api/v1/runs/${encodeURIComponent(runId)}/metrics`, MetricKeysSchema);
        const next = new Map(data.current);
        for (const m of keys.metrics) {
          const have = next.get(m.key) ?? [];
          const last = have[have.length - 1];
          if (last && last.x >= m.lastStep && have.length >= m.count) continue;
          const after = last ? last.x : -1;
          const body = await getJson(`/api/v1/runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(m.key)}?after_step=${after}`, MetricHistorySchema);
          next.set(m.key, [...have, ...body.points.map((p) => ({ x: p.step, y: p.value }))]);
        }
        data.current = next;
        setSeries(next);
        setError(null);
      } while (again.current);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      busy.current = false;
    }
  }, [runId]);

  useEffect(() => {
    void load();
  }, [load]);

  /** Adds live points pushed by the run stream (no request): only steps newer than what is loaded. */
  const append = useCallback((points: readonly { key: string; step: number; value: number }[]) => {
    const next = new Map(data.current);
    let changed = false;
    for (const p of points) {
      const have = next.get(p.key) ?? [];
      const last = have[have.length - 1];
      if (last && last.x >= p.step) continue;
      next.set(p.key, [...have, { x: p.step, y: p.value }]);
      changed = true;
    }
    if (!changed) return;
    data.current = next;
    setSeries(next);
  }, []);

  return { series, error, refresh: () => void load(), append };
}
