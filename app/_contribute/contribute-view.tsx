'use client';

import { useEffect, useRef, useState } from 'react';
import { StatusSchema } from '../../core/api/status.ts';
import type { BrowserWorker, ContributeSnapshot, ContributeState } from './browser-worker.ts';
import type { PlainFitRequest, PlainFitResult, WireTimingRequest, WireTimingResult } from './fit-baseline.ts';
import { BROWSER_BACKEND_REQUESTS, parseBrowserBackendRequest } from './backend-request.ts';

/** How long a hidden (backgrounded) tab keeps training before it leaves the run. */
const BACKGROUND_LEAVE_MS = 10_000;
/** Longest time the page shows stale progress while the tab trains. */
const RENDER_INTERVAL_MS = 250;
const STATUS_POLL_MS = 5_000;

/** The worker handle the e2e tests and the bench read from the page. */
declare global {
  interface Window {
    __crowdtrainContribute?: {
      snapshot(): ContributeSnapshot;
      pause(): void;
      resume(): void;
      /** Times plain model.fit on this tab's backend (bench/tab-overhead.ts); loaded on demand. */
      timePlainFit(req: PlainFitRequest): Promise<PlainFitResult>;
      /** Times moving a step's bytes over a bare WebSocket (bench/tab-overhead.ts); loaded on demand. */
      timeWebSocketTransfer(req: WireTimingRequest): Promise<WireTimingResult>;
    };
  }
}

const STATE_LABEL: Record<ContributeState, [string, string]> = {
  starting: ['Starting', 'bg-slate-400 animate-pulse'],
  connecting: ['Connecting', 'bg-slate-400 animate-pulse'],
  waiting: ['Waiting for a run', 'bg-amber-400'],
  loading: ['Loading', 'bg-indigo-400 animate-pulse'],
  training: ['Training', 'bg-emerald-500'],
  paused: ['Paused', 'bg-slate-500'],
  finished: ['Run finished', 'bg-sky-500'],
  unreachable: ['Coordinator unreachable', 'bg-rose-500 animate-pulse'],
  'bad-token': ['Wrong token', 'bg-rose-600'],
  error: ['Stopped', 'bg-rose-600'],
};

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3">
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-1 font-mono text-lg text-slate-900" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

/** Share of the run's samples this tab computed, from the coordinator's status (null until known). */
function useRunShare(workerId: string | null, active: boolean): number | null {
  const [share, setShare] = useState<number | null>(null);
  useEffect(() => {
    if (!workerId || !active) return;
    let cancelled = false;
    const poll = async () => {
      try {
        const res = await fetch('/api/v1/status', { cache: 'no-store' });
        const parsed = StatusSchema.safeParse(await res.json());
        if (!parsed.success || cancelled) return;
        // This tab's run: the samples of the workers serving the same run.
        const runId = parsed.data.workers.find((w) => w.id === workerId)?.runId ?? null;
        const workers = runId === null ? [] : parsed.data.workers.filter((w) => w.runId === runId);
        const total = workers.reduce((a, w) => a + w.samples, 0);
        const mine = workers.find((w) => w.id === workerId)?.samples ?? 0;
        setShare(total > 0 ? mine / total : null);
      } catch {
        // the socket state already tells the user the coordinator is unreachable
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), STATUS_POLL_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [workerId, active]);
  return share;
}

/**
 * The /contribute page body: reads `token`, `backend`, `name` and `run` (pin to one run; a malformed id is refused by the coordinator, and the page shows why) from the join link, starts the
 * tab worker (loaded client-side only, so tfjs never reaches the server bundle) and shows what it does.
 */
export function ContributeView() {
  const workerRef = useRef<BrowserWorker | null>(null);
  const [snap, setSnap] = useState<ContributeSnapshot | null>(null);
  const [missingToken, setMissingToken] = useState(false);
  const [requested, setRequested] = useState('auto');

  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const token = params.get('token');
    if (!token) {
      setMissingToken(true);
      return;
    }
    const backend = parseBrowserBackendRequest(params.get('backend'));
    setRequested(backend);
    const stayInBackground = params.get('background') === 'stay';
    let cancelled = false;
    let unsubscribe: (() => void) | null = null;
    let hiddenTimer: ReturnType<typeof setTimeout> | null = null;
    let autoPaused = false;
    const onVisibility = () => {
      const w = workerRef.current;
      if (!w || stayInBackground) return;
      if (document.visibilityState === 'hidden') {
        hiddenTimer ??= setTimeout(() => {
          if (!w.paused) {
            autoPaused = true;
            w.pause();
          }
        }, BACKGROUND_LEAVE_MS);
      } else {
        if (hiddenTimer) clearTimeout(hiddenTimer);
        hiddenTimer = null;
        if (autoPaused) {
          autoPaused = false;
          w.resume();
        }
      }
    };
    const onPageHide = () => workerRef.current?.stop();
    // Progress arrives every step (tens per second on a fast backend); re-rendering each time would
    // take main-thread time from the training loop. A new state renders at once, progress at most
    // every RENDER_INTERVAL_MS.
    let lastState: ContributeState | null = null;
    let lastRenderAt = 0;
    let renderTimer: ReturnType<typeof setTimeout> | null = null;
    let pending: ContributeSnapshot | null = null;
    const renderNow = () => {
      renderTimer = null;
      if (pending === null || cancelled) return;
      lastRenderAt = performance.now();
      lastState = pending.state;
      setSnap(pending);
      pending = null;
    };
    const renderThrottled = (s: ContributeSnapshot) => {
      pending = s;
      const wait = RENDER_INTERVAL_MS - (performance.now() - lastRenderAt);
      if (s.state !== lastState || wait <= 0) {
        if (renderTimer) clearTimeout(renderTimer);
        renderNow();
      } else {
        renderTimer ??= setTimeout(renderNow, wait);
      }
    };
    void import('./browser-worker.ts').then(({ BrowserWorker }) => {
      if (cancelled) return;
      const worker = new BrowserWorker({ url: window.location.origin, token, backend, name: params.get('name') ?? undefined, pinRun: params.get('run') ?? undefined });
      workerRef.current = worker;
      window.__crowdtrainContribute = {
        snapshot: () => worker.snapshot,
        pause: () => worker.pause(),
        resume: () => worker.resume(),
        timePlainFit: (req) => import('./fit-baseline.ts').then((m) => m.timePlainFit(window.location.origin, req)),
        timeWebSocketTransfer: (req) => import('./fit-baseline.ts').then((m) => m.timeWebSocketTransfer(req)),
      };
      unsubscribe = worker.subscribe(renderThrottled);
      document.addEventListener('visibilitychange', onVisibility);
      window.addEventListener('pagehide', onPageHide);
      void worker.start();
    });
    return () => {
      cancelled = true;
      if (hiddenTimer) clearTimeout(hiddenTimer);
      if (renderTimer) clearTimeout(renderTimer);
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('pagehide', onPageHide);
      unsubscribe?.();
      workerRef.current?.stop();
      workerRef.current = null;
      delete window.__crowdtrainContribute;
    };
  }, []);

  const share = useRunShare(snap?.workerId ?? null, snap?.state === 'training');

  if (missingToken) {
    return (
      <section role="alert" data-testid="contribute-state" data-state="no-token" className="rounded-xl border border-amber-200 bg-amber-50 p-5 text-amber-900">
        <h2 className="font-semibold">This link has no join token</h2>
        <p className="mt-1 text-sm">
          Open the join link from the coordinator&apos;s dashboard: it looks like <code>/contribute?token=…</code>.
        </p>
      </section>
    );
  }
  if (!snap) return <p className="text-sm text-slate-500">Loading the worker…</p>;

  const [label, dot] = STATE_LABEL[snap.state];
  const w = workerRef.current;
  const alert = snap.state === 'bad-token' || snap.state === 'error' || snap.state === 'unreachable';
  return (
    <div
      className="space-y-5"
      data-testid="contribute-state"
      data-state={snap.state}
      data-backend={snap.backend ?? ''}
      data-steps={snap.stepsDone}
    >
      <section className="flex flex-wrap items-center justify-between gap-3 rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
        <div>
          <p className="inline-flex items-center gap-2 text-base font-semibold text-slate-900" role="status">
            <span className={`h-2.5 w-2.5 rounded-full ${dot}`} aria-hidden="true" />
            {label}
            {snap.runName ? <span className="font-normal text-slate-500">· run {snap.runName}</span> : null}
          </p>
          <p className={`mt-1 text-sm ${alert ? 'text-rose-700' : 'text-slate-600'}`} role={alert ? 'alert' : undefined} data-testid="contribute-message">
            {snap.message}
          </p>
        </div>
        {w && snap.state !== 'bad-token' && snap.state !== 'error' ? (
          <button
            type="button"
            onClick={() => (w.paused ? w.resume() : w.pause())}
            className="rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
            data-testid="pause-button"
          >
            {snap.state === 'paused' ? 'Resume' : 'Pause'}
          </button>
        ) : null}
      </section>

      <section aria-labelledby="backend" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
        <h2 id="backend" className="text-sm font-semibold text-slate-900">
          Compute backend: <span data-testid="contribute-backend">{snap.backend ?? '…'}</span>
          {snap.adapter ? <span className="font-normal text-slate-500"> on {snap.adapter}</span> : null}
          {snap.softwareAdapter && snap.backend !== 'cpu' && snap.backend !== 'wasm' ? (
            <span className="ml-2 rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-800">software emulation</span>
          ) : null}
        </h2>
        {snap.fallbacks.length > 0 ? (
          <ul className="mt-2 space-y-1 text-xs text-slate-600" data-testid="contribute-fallbacks">
            {snap.fallbacks.map((f) => (
              <li key={f.backend}>
                <span className="font-medium">{f.backend}</span> skipped: {f.reason}
              </li>
            ))}
          </ul>
        ) : null}
        <p className="mt-2 text-xs text-slate-500">
          Override with <code>&amp;backend=</code>
          {BROWSER_BACKEND_REQUESTS.join(' | ')} (requested: {requested}).
        </p>
      </section>

      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        <Stat label="Step" value={snap.step === null ? '–' : String(snap.step)} testId="contribute-step" />
        <Stat label="Steps by this tab" value={String(snap.stepsDone)} />
        <Stat label="Samples/s" value={snap.samplesPerSec === null ? '–' : snap.samplesPerSec.toFixed(1)} />
        <Stat label="Share of the run" value={share === null ? '–' : `${(share * 100).toFixed(1)} %`} />
        <Stat label="Loss" value={snap.loss === null ? '–' : snap.loss.toFixed(4)} />
        <Stat label="Sent" value={formatBytes(snap.bytesSent)} />
        <Stat label="Received" value={formatBytes(snap.bytesReceived)} />
        <Stat label="Time contributed" value={formatDuration(snap.contributedSeconds)} />
      </dl>

      {snap.dataset ? (
        <p className="text-xs text-slate-500">
          Data set {snap.dataset.name}: {snap.dataset.size} samples, {formatBytes(snap.dataset.bytes)} ({snap.dataset.source === 'network' ? 'downloaded, now cached' : `from ${snap.dataset.source}`}).
          Tensors held: {snap.numTensors}.
          {snap.storage ? (
            <span data-testid="storage-quota">
              {' '}
              Browser storage: {formatBytes(snap.storage.usage)} of {formatBytes(snap.storage.quota)} used.
            </span>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}
