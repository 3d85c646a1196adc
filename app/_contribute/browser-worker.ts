import * as tf from '@tensorflow/tfjs-core';
import { io, type Socket } from 'socket.io-client';
import type { WorkerProgress } from '../../core/worker/worker-session.ts';
import { WorkerConnection, type WorkerConnectionEvent } from '../../core/worker/worker-connection.ts';
import { workerSocketOptions, type WorkerSocketLike } from '../../core/worker/socket-transport.ts';
import type { DatasetSpec } from '../../core/data/dataset-spec.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import type { ModelSpec } from '../../core/models/model-spec.ts';
import type { ServerToClientEvents, TypedClientToServerEvents } from '../../core/protocol/messages.ts';
import { selectBrowserBackend, type BrowserBackendChoice } from './browser-backend.ts';
import type { BrowserBackendRequest } from './backend-request.ts';
import { BrowserDatasetLoader, type DatasetSource } from './browser-dataset.ts';

/** What the tab is doing, as the page shows it. */
export type ContributeState =
  | 'starting' // choosing a backend
  | 'connecting' // opening the socket
  | 'waiting' // joined; no run is active (or the run has not assigned this tab yet)
  | 'loading' // downloading the data set / building the model
  | 'training'
  | 'paused'
  | 'finished' // the run this tab trained ended
  | 'unreachable' // the coordinator cannot be reached; retrying with backoff
  | 'bad-token' // the coordinator refused the token; the socket is closed
  | 'error'; // something else that stops the tab (protocol mismatch, no backend)

/** A snapshot of the tab worker, rendered by the page and read by the e2e tests. */
export interface ContributeSnapshot {
  state: ContributeState;
  message: string;
  backend: string | null;
  adapter: string | null;
  softwareAdapter: boolean;
  fallbacks: { backend: string; reason: string }[];
  workerId: string | null;
  runId: string | null;
  runName: string | null;
  runStatus: string | null;
  step: number | null;
  epoch: number | null;
  loss: number | null;
  stepsDone: number;
  samplesDone: number;
  samplesPerSec: number | null;
  bytesSent: number;
  bytesReceived: number;
  /** Seconds this tab spent computing steps. */
  computeSeconds: number;
  /** Seconds since this tab first started training. */
  contributedSeconds: number;
  dataset: { name: string; size: number; bytes: number; source: DatasetSource } | null;
  /** This origin's browser storage (the Cache API holding downloaded data sets): bytes used and the quota, when the browser tells (navigator.storage.estimate). */
  storage: { usage: number; quota: number } | null;
  /** tf.memory().numTensors after the latest step (leak check). */
  numTensors: number;
  /** numTensors after each of the first 20 steps, every 10th up to 1000, then every 1000th; keyed by steps done. */
  tensorsAtStep: Record<number, number>;
  /** Consecutive failed connection attempts while unreachable. */
  retries: number;
}

/** Options of a tab worker, read from the join link. */
export interface BrowserWorkerOptions {
  /** Coordinator base URL (the page's own origin). */
  url: string;
  token: string;
  backend: BrowserBackendRequest;
  name?: string;
  /** Serve only this run (`&run=ID` in the join link). */
  pinRun?: string;
}

/** Creates the tab's (not yet connected) worker socket to the coordinator. */
function connectTabSocket(url: string, token: string): WorkerSocketLike {
  const socket: Socket<ServerToClientEvents, TypedClientToServerEvents> = io(url, workerSocketOptions(token));
  return socket;
}

function initialSnapshot(): ContributeSnapshot {
  return {
    state: 'starting',
    message: 'Choosing a compute backend…',
    backend: null,
    adapter: null,
    softwareAdapter: false,
    fallbacks: [],
    workerId: null,
    runId: null,
    runName: null,
    runStatus: null,
    step: null,
    epoch: null,
    loss: null,
    stepsDone: 0,
    samplesDone: 0,
    samplesPerSec: null,
    bytesSent: 0,
    bytesReceived: 0,
    computeSeconds: 0,
    contributedSeconds: 0,
    dataset: null,
    storage: null,
    numTensors: 0,
    tensorsAtStep: {},
    retries: 0,
  };
}

/**
 * The /contribute tab's worker: the shared connection lifecycle and worker loop
 * (core/worker/worker-connection.ts, worker-session.ts) over the shared socket transport, with a
 * browser backend and a cached binary data set. Pausing leaves the run (the coordinator reassigns
 * the slice); resuming rejoins, under the same worker id, at the coordinator's current parameters.
 * Subscribe to snapshots with {@link BrowserWorker.subscribe}.
 */
export class BrowserWorker {
  private snap: ContributeSnapshot = initialSnapshot();
  private readonly listeners = new Set<(s: ContributeSnapshot) => void>();
  private connection: WorkerConnection | null = null;
  private choice: BrowserBackendChoice | null = null;
  private readonly datasets: BrowserDatasetLoader;
  private trainingSince: number | null = null;
  private contributedMs = 0;
  private stopped = false;
  private pausedByUser = false;
  private readonly runNames = new Map<string, string>();

  constructor(private readonly opts: BrowserWorkerOptions) {
    this.datasets = new BrowserDatasetLoader(opts.url);
  }

  /** The current snapshot. */
  get snapshot(): ContributeSnapshot {
    return this.snap;
  }

  /** Calls `fn` on every change (and once now); returns the unsubscribe function. */
  subscribe(fn: (s: ContributeSnapshot) => void): () => void {
    this.listeners.add(fn);
    fn(this.snap);
    return () => this.listeners.delete(fn);
  }

  private update(patch: Partial<ContributeSnapshot>): void {
    const now = performance.now();
    const contributed = this.contributedMs + (this.trainingSince !== null ? now - this.trainingSince : 0);
    this.snap = { ...this.snap, ...patch, contributedSeconds: contributed / 1000 };
    for (const fn of this.listeners) fn(this.snap);
  }

  private setTraining(on: boolean): void {
    const now = performance.now();
    if (on && this.trainingSince === null) this.trainingSince = now;
    if (!on && this.trainingSince !== null) {
      this.contributedMs += now - this.trainingSince;
      this.trainingSince = null;
    }
  }

  /** Sets up the backend, then connects and serves runs until stopped. */
  async start(): Promise<void> {
    try {
      this.choice = await selectBrowserBackend(this.opts.backend);
    } catch (err) {
      this.update({ state: 'error', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (this.stopped) return;
    this.update({
      backend: this.choice.backend,
      adapter: this.choice.adapter,
      softwareAdapter: this.choice.software,
      fallbacks: this.choice.fallbacks,
    });
    this.connect();
  }

  private connect(): void {
    this.update({ state: 'connecting', message: `Connecting to ${this.opts.url}…` });
    const choice = this.choice;
    this.connection = new WorkerConnection({
      socket: connectTabSocket(this.opts.url, this.opts.token),
      hello: () => ({
        kind: 'browser',
        backend: choice?.backend ?? tf.getBackend(),
        name: this.opts.name,
        ...(this.opts.pinRun ? { pinRun: this.opts.pinRun } : {}),
        userAgent: navigator.userAgent.slice(0, 512),
        deviceInfo: {
          adapter: choice?.adapter?.slice(0, 512) ?? null,
          softwareAdapter: choice?.software ?? false,
          requestedBackend: this.opts.backend,
          hardwareConcurrency: navigator.hardwareConcurrency ?? null,
        },
        capabilities: { convBackprop: true },
      }),
      session: {
        loadTrainSet: (spec) => this.loadTrainSet(spec),
        prepareBackend: (_model: ModelSpec) => Promise.resolve(tf.getBackend()),
        onRunAssigned: (run) => {
          this.runNames.set(run.runId, run.name);
          this.update({ state: 'loading', runId: run.runId, runName: run.name, runStatus: 'running', message: `Loading data and model for run ${run.name}…` });
        },
        onProgress: (p) => this.onProgress(p),
        onRunReleased: (runId, reason) => {
          this.setTraining(false);
          this.update({ state: 'finished', runId, runStatus: 'released', message: `Moved off run ${this.runNames.get(runId) ?? runId}: ${reason}. Waiting for the next run.` });
        },
        onRunEnd: (runId, status, reason) => {
          this.setTraining(false);
          this.update({ state: 'finished', runId, runStatus: status, message: `Run ${this.runNames.get(runId) ?? runId} ${status}: ${reason}. Waiting for the next run.` });
        },
        onError: (err) => {
          const message = err instanceof Error ? err.message : String(err);
          this.update({ message: `worker error: ${message}` });
        },
      },
      onEvent: (e) => this.onConnectionEvent(e),
    });
    this.connection.start();
  }

  private onConnectionEvent(e: WorkerConnectionEvent): void {
    switch (e.type) {
      case 'joined':
        this.update({ state: 'waiting', workerId: e.workerId, retries: 0, message: 'Joined. Waiting for the coordinator to assign a run…' });
        return;
      case 'join-refused':
        this.update({ state: 'error', message: `join refused: ${e.error.code}: ${e.error.message}` });
        return;
      case 'hello-failed':
        this.update({ message: e.message });
        return;
      case 'handshake-refused':
        this.setTraining(false);
        if (e.code === 'BAD_TOKEN') this.update({ state: 'bad-token', message: 'The coordinator refused this join link: the token is wrong. Ask for a fresh link.' });
        else this.update({ state: 'error', message: `The coordinator refused this tab: ${e.message}` });
        return;
      case 'unreachable':
        this.setTraining(false);
        this.update({ state: 'unreachable', retries: e.attempts, message: `Coordinator unreachable (${e.message}); retrying with backoff.` });
        return;
      case 'disconnected':
        this.setTraining(false);
        if (e.intentional || this.pausedByUser || this.stopped) return;
        // Not reconnecting only when the coordinator closed this connection on purpose (eviction).
        if (e.reconnecting) this.update({ state: 'unreachable', message: `Disconnected (${e.reason}); reconnecting.` });
        else this.update({ state: 'error', message: `The coordinator disconnected this tab (${e.reason}): ${this.snap.message}` });
        return;
      case 'coordinator-error':
        this.update({ message: `coordinator says ${e.error.code}: ${e.error.message}` });
        return;
    }
  }

  private async loadTrainSet(spec: DatasetSpec): Promise<Dataset> {
    const loaded = await this.datasets.load(spec);
    this.update({ dataset: { name: loaded.dataset.name, size: loaded.dataset.size, bytes: loaded.bytes, source: loaded.source }, storage: await storageEstimate() });
    return loaded.dataset;
  }

  private onProgress(p: WorkerProgress): void {
    // A step that was in flight when the user paused may still complete: it does not resume training.
    if (this.pausedByUser || this.stopped) return;
    if (this.snap.state !== 'training') this.setTraining(true);
    const numTensors = tf.memory().numTensors;
    const sample = p.stepsDone <= 20 || (p.stepsDone <= 1000 && p.stepsDone % 10 === 0) || p.stepsDone % 1000 === 0;
    const tensorsAtStep = sample ? { ...this.snap.tensorsAtStep, [p.stepsDone]: numTensors } : this.snap.tensorsAtStep;
    this.update({
      state: 'training',
      message: `Training run ${this.runNames.get(p.runId) ?? p.runId}.`,
      runId: p.runId,
      runName: this.runNames.get(p.runId) ?? this.snap.runName,
      step: p.step,
      epoch: p.epoch,
      loss: p.loss,
      stepsDone: p.stepsDone,
      samplesDone: p.samplesDone,
      samplesPerSec: p.samplesPerSec,
      bytesSent: p.bytesSent,
      bytesReceived: p.bytesReceived,
      computeSeconds: this.snap.computeSeconds + p.computeMs / 1000,
      numTensors,
      tensorsAtStep,
    });
  }

  /** Leaves the run on purpose: the coordinator records the leave and reassigns this tab's slice. */
  pause(): void {
    if (!this.connection || this.pausedByUser) return;
    this.pausedByUser = true;
    this.setTraining(false);
    // Waits for the coordinator to record the leave (with its reason) before closing the connection.
    void this.connection.leave('paused by the user');
    this.update({ state: 'paused', message: 'Paused: this tab left the run. Resume to rejoin at the current parameters.' });
  }

  /** Rejoins after a pause, at the coordinator's current parameters. */
  resume(): void {
    if (!this.connection || !this.pausedByUser || this.stopped) return;
    this.pausedByUser = false;
    this.update({ state: 'connecting', message: 'Rejoining…' });
    this.connection.resume();
  }

  /** Whether the user paused the tab. */
  get paused(): boolean {
    return this.pausedByUser;
  }

  /** Leaves the run, closes the connection and frees every tensor (page unload / unmount). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.setTraining(false);
    void this.connection?.close('tab closed');
    this.connection = null;
  }
}

/** The origin's storage use and quota (null where the browser has no StorageManager, e.g. an insecure context). */
async function storageEstimate(): Promise<{ usage: number; quota: number } | null> {
  try {
    const e = typeof navigator === 'undefined' ? undefined : await navigator.storage?.estimate();
    return e && typeof e.usage === 'number' && typeof e.quota === 'number' ? { usage: e.usage, quota: e.quota } : null;
  } catch {
    return null;
  }
}
