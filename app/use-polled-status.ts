'use client';

import { useEffect, useState } from 'react';
import { z } from 'zod';
import { StatusSchema, type Status } from '../core/api/status.ts';

/** Where the dashboard reads the coordinator's status (served by the coordinator, not by Next). */
export const STATUS_URL = '/api/v1/status';

/** What the poller knows: nothing yet, a fresh status, or why the last poll failed. */
export type PolledStatus =
  | { state: 'loading' }
  | { state: 'ok'; status: Status; fetchedAt: number }
  | {
      state: 'error';
      reason: 'unreachable' | 'bad-response';
      message: string;
      lastStatus: Status | null;
      failingSince: number;
    };

/**
 * Polls `url` every `intervalMs` (after the previous poll settles; each poll times out after
 * `timeoutMs`) and validates the body with core/api's `StatusSchema`.
 * @example const polled = usePolledStatus(); if (polled.state === 'ok') show(polled.status);
 */
export function usePolledStatus(url = STATUS_URL, intervalMs = 2000, timeoutMs = 5000): PolledStatus {
  const [polled, setPolled] = useState<PolledStatus>({ state: 'loading' });

  useEffect(() => {
    let stopped = false;
    let nextPoll: ReturnType<typeof setTimeout> | undefined;
    let inFlight: AbortController | undefined;
    let lastStatus: Status | null = null;

    const fail = (reason: 'unreachable' | 'bad-response', message: string): void => {
      setPolled((prev) => ({
        state: 'error',
        reason,
        message,
        lastStatus,
        failingSince: prev.state === 'error' ? prev.failingSince : Date.now(),
      }));
    };

    const poll = async (): Promise<void> => {
      const controller = new AbortController();
      inFlight = controller;
      const timeout = setTimeout(() => controller.abort(), timeoutMs);
      try {
        let response: Response;
        try {
          response = await fetch(url, { cache: 'no-store', signal: controller.signal });
        } catch (err) {
          if (!stopped) fail('unreachable', err instanceof Error ? err.message : String(err));
          return;
        }
        if (!response.ok) {
          if (!stopped) fail(response.status >= 500 ? 'unreachable' : 'bad-response', `GET ${url} answered HTTP ${response.status}`);
          return;
        }
        let body: unknown;
        try {
          body = await response.json();
        } catch (err) {
          if (!stopped) fail('bad-response', `GET ${url} did not return JSON: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        const parsed = StatusSchema.safeParse(body);
        if (!parsed.success) {
          if (!stopped) fail('bad-response', `GET ${url} returned an unexpected shape: ${z.prettifyError(parsed.error)}`);
          return;
        }
        lastStatus = parsed.data;
        if (!stopped) setPolled({ state: 'ok', status: parsed.data, fetchedAt: Date.now() });
      } finally {
        clearTimeout(timeout);
        if (!stopped) nextPoll = setTimeout(() => void poll(), intervalMs);
      }
    };

    void poll();
    return () => {
      stopped = true;
      clearTimeout(nextPoll);
      inFlight?.abort();
    };
  }, [url, intervalMs, timeoutMs]);

  return polled;
}
