import * as tf from '@tensorflow/tfjs-core';
import { CHUNK_BYTES } from '../protocol/version.ts';
import { CrowdtrainError, toWireError } from '../protocol/errors.ts';
import {
  describeZodError,
  ParamsChunkSchema,
  RunAssignSchema,
  RunEndSchema,
  RunReleaseSchema,
  StepAssignSchema,
  type AckResult,
  type RunReady,
  type TaskSpec,
} from '../protocol/messages.ts';
import { ChunkAssembler, splitIntoChunks } from '../codec/chunking.ts';
import { bytesToFloat32 } from '../codec/float-bytes.ts';
import { encodeGradient, type GradientCompression } from '../codec/gradient-compression.ts';
import { GradientComputer } from '../models/gradient-computer.ts';
import { ModelSpecSchema, type ModelSpec } from '../models/model-spec.ts';
import { DatasetSpecSchema, type DatasetSpec } from '../data/dataset-spec.ts';
import type { Dataset } from '../data/dataset.ts';
import type { WorkerTransport } from './worker-transport.ts';
import { WORKER_TASKS, type WorkerTask, type WorkerTaskRegistry, type WorkerTaskResult } from './tasks/index.ts';

/** Progress of a worker, reported after every step. */
export interface WorkerProgress {
  runId: string;
  step: number;
  epoch: number;
  loss: number;
  samples: number;
  stepsDone: number;
  samplesDone: number;
  bytesSent: number;
  bytesReceived: number;
  computeMs: number;
  samplesPerSec: number;
}

/** A run this worker accepted to serve (reported before its data set and model are loaded). */
export interface AssignedRun {
  runId: string;
  name: string;
  task: TaskSpec;
}

/** Hooks and services the session needs from its host (node process or browser tab). */
export interface WorkerSessionOptions {
  transport: WorkerTransport;
  /** The task kinds this worker can run (default WORKER_TASKS); a test may add or replace one. */
  tasks?: WorkerTaskRegistry;
  /** Makes the right tfjs backend current for this model; returns its name. */
  prepareBackend?(model: ModelSpec): Promise<string>;
  /** Loads (and caches) the train split of a dataset spec. */
  loadTrainSet(spec: DatasetSpec): Promise<Dataset>;
  /** A valid run:assign arrived for a task this worker has; loading its data and model starts now. */
  onRunAssigned?(run: AssignedRun): void;
  onProgress?(p: WorkerProgress): void;
  onRunEnd?(runId: string, status: string, reason: string): void;
  /** The coordinator moved this worker off run `runId` (it stays connected and idle until the next run:assign). */
  onRunReleased?(runId: string, reason: string): void;
  onError?(err: unknown): void;
}

interface ActiveRun {
  runId: string;
  compression: GradientCompression;
  task: WorkerTask;
  taskOptions: unknown;
  computer: GradientComputer;
  train: Dataset;
  paramsVersion: number;
  assembling: { version: number; assembler: ChunkAssembler } | null;
  latest: { version: number; params: Float32Array } | null;
}

/**
 * The worker loop shared by every kind of worker: builds the run's model, keeps the latest
 * parameters the coordinator sent, and answers each step assignment with the result of the run's
 * task (WorkerTask, looked up by `task.kind` in the registry; the gradient of the slice for ddp),
 * encoded with the run's gradient compression and sent as binary chunks plus a commit. Steps are
 * processed one at a time, in arrival order.
 */
export class WorkerSession {
  private run: ActiveRun | null = null;
  private queue: Promise<void> = Promise.resolve();
  private stepsDone = 0;
  private samplesDone = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private readonly rateWindow: { t: number; samples: number }[] = [];

  private readonly tasks: WorkerTaskRegistry;

  constructor(private readonly opts: WorkerSessionOptions) {
    this.tasks = opts.tasks ?? WORKER_TASKS;
    const t = opts.transport;
    t.onRunAssign((msg) => this.enqueueAssign(msg));
    t.onParamsChunk((msg) => this.guard(() => this.handleParamsChunk(msg)));
    t.onStepAssign((msg) => {
      this.queue = this.queue.then(() => this.handleStep(msg)).catch((err: unknown) => this.opts.onError?.(err));
    });
    t.onRunEnd((raw) => {
      const parsed = RunEndSchema.safeParse(raw);
      if (!parsed.success) {
        this.opts.onError?.(new CrowdtrainError('INVALID_MESSAGE', `run:end: ${describeZodError(parsed.error)}`));
        return;
      }
      const { runId, status, reason } = parsed.data;
      this.queue = this.queue
        .then(() => {
          if (this.run && this.run.runId === runId) this.disposeRun();
          this.opts.onRunEnd?.(runId, status, reason);
        })
        .catch((err: unknown) => this.opts.onError?.(err));
    });
    t.onRunRelease((raw) => {
      const parsed = RunReleaseSchema.safeParse(raw);
      if (!parsed.success) {
        this.opts.onError?.(new CrowdtrainError('INVALID_MESSAGE', `run:release: ${describeZodError(parsed.error)}`));
        return;
      }
      const { runId, reason } = parsed.data;
      // Queued behind the steps already assigned: their results are still sent (and dropped by
      // the coordinator), and the next run:assign, queued after this, builds the new model.
      this.queue = this.queue
        .then(() => {
          if (this.run && this.run.runId === runId) this.disposeRun();
          this.opts.onRunReleased?.(runId, reason);
        })
        .catch((err: unknown) => this.opts.onError?.(err));
    });
  }

  /** The run this worker serves now, or null while idle. */
  get currentRunId(): string | null {
    return this.run?.runId ?? null;
  }

  /** Number of steps this worker has computed. */
  get steps(): number {
    return this.stepsDone;
  }

  /** Releases the model and every tensor the session holds. */
  dispose(): void {
    this.disposeRun();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private enqueueAssign(msg: unknown): Promise<AckResult<RunReady>> {
    const result = this.queue.then(() => this.handleAssign(msg));
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async handleAssign(raw: unknown): Promise<AckResult<RunReady>> {
    try {
      const parsed = RunAssignSchema.safeParse(raw);
      if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `run:assign: ${describeZodError(parsed.error)}`);
      const msg = parsed.data;
      const { task, options: taskOptions } = this.resolveTask(msg.task);
      const model = ModelSpecSchema.parse(msg.model);
      const datasetSpec = DatasetSpecSchema.parse(msg.dataset);
      this.opts.onRunAssigned?.({ runId: msg.runId, name: msg.name, task: msg.task });
      const train = await this.opts.loadTrainSet(datasetSpec);
      this.disposeRun();
      const backend = this.opts.prepareBackend ? await this.opts.prepareBackend(model) : tf.getBackend();
      const computer = GradientComputer.create(model, {
        inputShape: train.inputShape,
        numClasses: train.numClasses,
        seed: msg.seed,
      });
      if (computer.layout.totalSize !== msg.paramCount) {
        computer.dispose();
        throw new CrowdtrainError(
          'SHAPE_MISMATCH',
          `model built here has ${computer.layout.totalSize} parameters, the coordinator's has ${msg.paramCount}`,
        );
      }
      this.run = {
        runId: msg.runId,
        compression: msg.gradientCompression,
        task,
        taskOptions,
        computer,
        train,
        paramsVersion: -1,
        assembling: null,
        latest: null,
      };
      return { ok: true, runId: msg.runId, paramCount: msg.paramCount, datasetSize: train.size, backend };
    } catch (err) {
      this.opts.onError?.(err);
      return { ok: false, error: toWireError(err) };
    }
  }

  /** The registry's task for a run's task spec, with its options parsed by the task's schema. */
  private resolveTask(spec: TaskSpec): { task: WorkerTask; options: unknown } {
    const task = Object.hasOwn(this.tasks, spec.kind) ? this.tasks[spec.kind] : undefined;
    if (!task) {
      const known = Object.keys(this.tasks).sort();
      throw new CrowdtrainError(
        'UNKNOWN_TASK',
        `run:assign asks for task kind ${JSON.stringify(spec.kind)}; this worker knows ${known.length ? known.map((k) => JSON.stringify(k)).join(', ') : 'none'}`,
      );
    }
    const options = task.options.safeParse(spec.options);
    if (!options.success) {
      throw new CrowdtrainError('INVALID_CONFIG', `options of task ${JSON.stringify(spec.kind)}: ${describeZodError(options.error)}`);
    }
    return { task, options: options.data };
  }

  private handleParamsChunk(raw: unknown): void {
    const parsed = ParamsChunkSchema.safeParse(raw);
    if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `params:chunk: ${describeZodError(parsed.error)}`);
    const msg = parsed.data;
    const run = this.run;
    if (!run || run.runId !== msg.runId) return;
    this.bytesReceived += msg.bytes.byteLength;
    if (!run.assembling || run.assembling.version !== msg.version) {
      run.assembling = { version: msg.version, assembler: new ChunkAssembler(msg.totalBytes, msg.count) };
    }
    run.assembling.assembler.add(msg.index, msg.bytes);
    if (run.assembling.assembler.complete) {
      const params = bytesToFloat32(run.assembling.assembler.result());
      run.latest = { version: msg.version, params };
      run.assembling = null;
    }
  }

  private async handleStep(raw: unknown): Promise<void> {
    const parsed = StepAssignSchema.safeParse(raw);
    if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `step:assign: ${describeZodError(parsed.error)}`);
    const msg = parsed.data;
    const run = this.run;
    if (!run || run.runId !== msg.runId) return;
    if (!run.latest || run.latest.version !== msg.paramsVersion) {
      const reason = `step ${msg.step} needs params version ${msg.paramsVersion}, this worker has ${run.latest?.version ?? 'none'}`;
      // Say so at once (the coordinator resends the params with the next assignment) instead of
      // letting the fleet wait for the step deadline.
      this.opts.transport.declineStep({ runId: msg.runId, step: msg.step, code: 'STALE_UPDATE', reason });
      throw new CrowdtrainError('STALE_UPDATE', reason);
    }
    if (run.paramsVersion !== msg.paramsVersion) {
      run.computer.setParams(run.latest.params);
      run.paramsVersion = msg.paramsVersion;
    }
    const indexBytes = msg.indices;
    const indices = new Uint32Array(indexBytes.byteLength / 4);
    new Uint8Array(indices.buffer).set(indexBytes);
    const started = nowMs();
    let result: WorkerTaskResult;
    try {
      result = await run.task.run({
        runId: msg.runId,
        step: msg.step,
        epoch: msg.epoch,
        paramsVersion: msg.paramsVersion,
        computer: run.computer,
        train: run.train,
        indices,
        options: run.taskOptions,
      });
    } finally {
      // A task that trains locally leaves other parameters behind: set the coordinator's again next step.
      if (run.task.mutatesParams) run.paramsVersion = -1;
    }
    const computeMs = nowMs() - started;
    // The vector goes out as the task returned it; the coordinator validates length, finiteness and norm.
    const bytes = encodeGradient(result.values, run.compression);
    const chunks = splitIntoChunks(bytes, CHUNK_BYTES);
    chunks.forEach((chunk, index) => {
      this.opts.transport.sendGradChunk({
        runId: msg.runId,
        step: msg.step,
        index,
        count: chunks.length,
        totalBytes: bytes.byteLength,
        bytes: chunk,
      });
    });
    this.bytesSent += bytes.byteLength;
    const ack = await this.opts.transport.commitGradient({
      runId: msg.runId,
      step: msg.step,
      paramsVersion: msg.paramsVersion,
      sampleCount: indices.length,
      loss: result.loss,
      accuracy: result.accuracy,
      computeMs,
    });
    if (!ack.ok) throw new CrowdtrainError(ack.error.code, `coordinator rejected step ${msg.step}: ${ack.error.message}`);
    this.stepsDone += 1;
    this.samplesDone += indices.length;
    const t = nowMs();
    this.rateWindow.push({ t, samples: indices.length });
    while (this.rateWindow.length > 20) this.rateWindow.shift();
    const first = this.rateWindow[0];
    const windowSamples = this.rateWindow.reduce((a, w) => a + w.samples, 0) - (first?.samples ?? 0);
    const span = first ? (t - first.t) / 1000 : 0;
    this.opts.onProgress?.({
      runId: msg.runId,
      step: msg.step,
      epoch: msg.epoch,
      loss: result.loss,
      samples: indices.length,
      stepsDone: this.stepsDone,
      samplesDone: this.samplesDone,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      computeMs,
      samplesPerSec: span > 0 ? windowSamples / span : indices.length / Math.max(computeMs / 1000, 1e-6),
    });
  }

  private disposeRun(): void {
    if (this.run) {
      this.run.computer.dispose();
      this.run = null;
    }
  }
}

function nowMs(): number {
  return globalThis.performance.now();
}
