'use client';

import { useEffect, useRef, useState } from 'react';
import { z } from 'zod';

const progressSchema = z
  .object({
    runId: z.string(),
    step: z.number(),
    totalUpdates: z.number(),
    status: z.string(),
    trainLoss: z.number().nullable(),
    evalAccuracy: z.number().nullable(),
    samplesPerSec: z.number().nullable(),
    activeWorkers: z.number(),
  })
  .passthrough();
const metricsEventSchema = z.object({
  runId: z.string(),
  points: z.array(z.object({ key: z.string(), step: z.number(), value: z.number() })),
});
/** A batch of live metric points of the run stream. */
export type LiveMetricPoint = z.infer<typeof metricsEventSchema>['points'][number];

/** A live progress event of the run stream. */
export type LiveProgress = z.infer<typeof progressSchema>;

/**
 * Bump `generation` to subscribe again (after a resume: the previous stream ended with the run).
 * Subscribes to `GET /api/v1/runs/:id/stream` (server-sent events fed by the coordinator's memory,
 * no database polling) and calls `onChange` (throttled by the server) on progress, checkpoint and end.
 */
export function useRunStream(
  runId: string,
  onChange: (kind: 'progress' | 'checkpoint' | 'ended') => void,
  generation = 0,
  onMetrics?: (points: LiveMetricPoint[]) => void,
): { progress: LiveProgress | null; connected: boolean } {
  const [progress, setProgress] = useState<LiveProgress | null>(null);
  const [connected, setConnected] = useState(false);
  const callback = useRef(onChange);
  callback.current = onChange;
  const metricsCallback = useRef(onMetrics);
  metricsCallback.current = onMetrics;

  useEffect(() => {
    const source = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/stream`);
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('progress', (e) => {
      const parsed = progressSchema.safeParse(JSON.parse((e as MessageEvent<string>).data));
      if (parsed.success) setProgress(parsed.data);
      callback.current('progress');
    });
    source.addEventListener('metrics', (e) => {
      const parsed = metricsEventSchema.safeParse(JSON.parse((e as MessageEvent<string>).data));
      if (parsed.success) metricsCallback.current?.(parsed.data.points);
    });
    source.addEventListener('checkpoint', () => callback.current('checkpoint'));
    source.addEventListener('ended', () => {
      setConnected(false);
      setProgress(null);
      source.close();
      callback.current('ended');
    });
    source.addEventListener('error', () => setConnected(false));
    return () => source.close();
  }, [runId, generation]);

  return { progress, connected };
}
