'use client';

import { useEffect, useRef, useState } from 'react';
import { RunProgressSchema, StreamMetricsSchema, type RunProgress, type StreamMetricPoint } from '../../core/api/stream.ts';

/**
 * Bump `generation` to subscribe again (after a resume: the previous stream ended with the run).
 * Subscribes to `GET /api/v1/runs/:id/stream` (server-sent events fed by the coordinator's memory,
 * no database polling) and calls `onChange` (throttled by the server) on progress, checkpoint and end.
 */
export function useRunStream(
  runId: string,
  onChange: (kind: 'progress' | 'checkpoint' | 'ended') => void,
  generation = 0,
  onMetrics?: (points: StreamMetricPoint[]) => void,
): { progress: RunProgress | null; connected: boolean } {
  const [progress, setProgress] = useState<RunProgress | null>(null);
  const [connected, setConnected] = useState(false);
  const callback = useRef(onChange);
  callback.current = onChange;
  const metricsCallback = useRef(onMetrics);
  metricsCallback.current = onMetrics;

  useEffect(() => {
    const source = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/stream`);
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('progress', (e) => {
      const parsed = RunProgressSchema.safeParse(JSON.parse((e as MessageEvent<string>).data));
      if (parsed.success) setProgress(parsed.data);
      callback.current('progress');
    });
    source.addEventListener('metrics', (e) => {
      const parsed = StreamMetricsSchema.safeParse(JSON.parse((e as MessageEvent<string>).data));
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
