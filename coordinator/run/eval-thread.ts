import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import createDebug from 'debug';
import { z } from 'zod';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { describeZodError } from '../../core/protocol/messages.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import type { EvaluationResult } from '../../core/models/gradient-computer.ts';
import type { ModelSpec } from '../../core/models/model-spec.ts';
import type { PermutationImportanceResult } from '../../core/metrics/permutation-importance.ts';
import { EvalReplySchema, type EvalReply, type EvalRequest, type EvalThreadInit, type ImportanceRequest } from './eval-messages.ts';

const debug = createDebug('crowdtrain:eval-thread');

/** The thread's entry module. */
const ENTRY = new URL('./eval-thread-main.ts', import.meta.url);

/** What an evaluation thread needs: the run's model, its seed and size, and the test split. */
export interface EvaluationThreadOptions {
  /** The run's name (in messages and the thread's name). */
  runName: string;
  model: ModelSpec;
  seed: number;
  /** The tfjs backend to evaluate on: the coordinator thread's (`tf.getBackend()`), for identical results. */
  backend: string;
  /** The coordinator model's parameter count (the thread checks that its model has the same). */
  paramCount: number;
  /** Samples per forward pass. */
  batchSize: number;
  /** The test split (copied into the thread once). */
  test: Dataset;
}

const TsxPackageSchema = z.object({ exports: z.object({ './esm/api': z.object({ import: z.object({ default: z.string() }) }) }) });

let tsxApiUrl: string | null = null;

/**
 * The URL of tsx's ESM API (`tsx/esm/api`, import condition), read once from tsx's package
 * exports: a worker thread does not inherit the TypeScript loader of the thread that starts it
 * (node 20 ignores `--import tsx` in a worker's execArgv for its entry), so the thread registers
 * it itself.
 */
function tsxEsmApiUrl(): string {
  tsxApiUrl ??= resolveTsxEsmApiUrl();
  return tsxApiUrl;
}

function resolveTsxEsmApiUrl(): string {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('tsx/package.json');
  } catch (cause) {
    throw new CrowdtrainError('INTERNAL', 'the evaluation thread needs the tsx package (a dependency of crowdtrain) to load TypeScript; it is not installed', { cause });
  }
  const pkg = TsxPackageSchema.safeParse(JSON.parse(readFileSync(pkgPath, 'utf8')));
  if (!pkg.success) throw new CrowdtrainError('INTERNAL', `tsx at ${pkgPath} exports no ESM API (tsx/esm/api): ${describeZodError(pkg.error)}`);
  return new URL(pkg.data.exports['./esm/api'].import.default, pathToFileURL(pkgPath)).href;
}

/**
 * The thread's bootstrap (a CommonJS eval script): registers tsx's loader in the thread when the
 * entry is TypeScript, then imports the entry.
 */
function bootstrapSource(entry: URL): string {
  const load = `import(${JSON.stringify(entry.href)})`;
  if (!entry.pathname.endsWith('.ts')) return `${load};`;
  return `import(${JSON.stringify(tsxEsmApiUrl())}).then((tsx) => { tsx.register(); return ${load}; });`;
}

/** A request's answer: an evaluation's result or a feature importance. */
type Answer = Extract<EvalReply, { type: 'result' | 'importance' }>;

interface Waiter {
  resolve: (r: Answer) => void;
  reject: (e: Error) => void;
}

/**
 * One run's evaluation thread: a worker thread that holds the run's model and test split and
 * evaluates copies of the master parameters off the coordinator's event loop, with results
 * bitwise equal to the in-thread evaluation. Requests are answered in the order they were made.
 * The thread starts at once (the model is built while the run waits for workers); a failure to
 * start is reported by the first {@link evaluate}. {@link close} terminates it.
 * @example
 * const thread = EvaluationThread.start({ runName, model, seed, backend: tf.getBackend(), paramCount, batchSize: 500, test });
 * const { loss, accuracy, confusion } = await thread.evaluate(params); // params may change right after the call
 * await thread.close();
 */
export class EvaluationThread {
  private readonly worker: Worker;
  private readonly ready: Promise<string>;
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 0;
  private failure: CrowdtrainError | null = null;
  private closing = false;
  /** Resolves when the thread has ended (closed, or failed). */
  readonly exited: Promise<void>;

  private constructor(private readonly opts: EvaluationThreadOptions) {
    const test = opts.test;
    const init: EvalThreadInit = {
      runName: opts.runName,
      model: opts.model,
      seed: opts.seed,
      backend: opts.backend,
      paramCount: opts.paramCount,
      batchSize: opts.batchSize,
      // Copies of the split alone (a view of a larger shared data set would clone all of it).
      test: { name: test.name, size: test.size, inputShape: [...test.inputShape], numClasses: test.numClasses, features: test.features.slice(), labels: test.labels.slice() },
    };
    this.worker = new Worker(bootstrapSource(ENTRY), {
      eval: true,
      workerData: init,
      // The coordinator's own flags (tsx's loader among them) do not apply to an eval script.
      execArgv: [],
      name: `crowdtrain-eval-${opts.runName}`,
    });
    let markReady!: (backend: string) => void;
    let markFailed!: (e: Error) => void;
    this.ready = new Promise<string>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    // A start failure is reported by the first evaluate(), never as an unhandled rejection.
    this.ready.catch(() => undefined);
    this.worker.on('message', (raw: unknown) => {
      const parsed = EvalReplySchema.safeParse(raw);
      if (!parsed.success) {
        this.failAll(new CrowdtrainError('INTERNAL', `evaluation thread of run ${opts.runName} sent an invalid reply: ${describeZodError(parsed.error)}`));
        void this.worker.terminate();
        return;
      }
      const msg = parsed.data;
      if (msg.type === 'ready') {
        markReady(msg.backend);
        return;
      }
      if (msg.type === 'error' && msg.id === null) {
        const err = new CrowdtrainError('INTERNAL', `evaluation thread of run ${opts.runName} failed: ${msg.message}`);
        markFailed(err);
        this.failAll(err);
        return;
      }
      if (msg.id === null) return;
      const waiter = this.waiters.get(msg.id);
      if (!waiter) return;
      this.waiters.delete(msg.id);
      if (msg.type === 'result' || msg.type === 'importance') waiter.resolve(msg);
      else waiter.reject(new CrowdtrainError('INTERNAL', `evaluation of run ${opts.runName} failed: ${msg.message}`));
    });
    this.worker.on('error', (err: Error) => {
      const e = new CrowdtrainError('INTERNAL', `evaluation thread of run ${opts.runName} crashed: ${err.message}`, { cause: err });
      markFailed(e);
      this.failAll(e);
    });
    this.exited = new Promise<void>((resolve) => {
      this.worker.once('exit', (code) => {
        debug('run %s: evaluation thread exited (%d)', opts.runName, code);
        const e = new CrowdtrainError('INTERNAL', this.closing ? `evaluation thread of run ${opts.runName} was closed` : `evaluation thread of run ${opts.runName} exited (code ${code})`);
        markFailed(e);
        this.failAll(e);
        resolve();
      });
    });
  }

  /** Starts a thread for one run. */
  static start(opts: EvaluationThreadOptions): EvaluationThread {
    return new EvaluationThread(opts);
  }

  /** Resolves with the tfjs backend the thread evaluates on once its model is built; rejects when it could not start. */
  whenReady(): Promise<{ backend: string }> {
    return this.ready.then((backend) => ({ backend }));
  }

  /**
   * Loss, accuracy and confusion matrix of `params` on the test split. The values are copied
   * before this returns, so the caller may change `params` at once. Rejects with INTERNAL when the
   * thread failed or was closed.
   */
  evaluate(params: Float32Array): Promise<EvaluationResult> {
    return this.request(params, (id, copy) => ({ id, params: copy })).then((msg) => {
      if (msg.type !== 'result') throw new CrowdtrainError('INTERNAL', `evaluation thread of run ${this.opts.runName} answered an evaluation with ${msg.type}`);
      return { loss: msg.loss, accuracy: msg.accuracy, confusion: msg.confusion };
    });
  }

  /**
   * Permutation feature importance of `params` on the test split (core/metrics/permutation-importance.ts):
   * `repeats` seeded permutations of each group's inputs. `params` is copied before this returns;
   * answered in call order with evaluations. Rejects with INTERNAL when the thread failed or was closed.
   */
  importance(params: Float32Array, opts: Pick<ImportanceRequest, 'groups' | 'repeats' | 'seed'>): Promise<PermutationImportanceResult> {
    return this.request(params, (id, copy) => ({ type: 'importance', id, params: copy, groups: opts.groups, repeats: opts.repeats, seed: opts.seed })).then((msg) => {
      if (msg.type !== 'importance') throw new CrowdtrainError('INTERNAL', `evaluation thread of run ${this.opts.runName} answered a feature importance with ${msg.type}`);
      return { repeats: msg.repeats, baseline: msg.baseline, truncated: msg.truncated, total_columns: msg.total_columns, columns: msg.columns };
    });
  }

  private request(params: Float32Array, make: (id: number, params: Float32Array<ArrayBuffer>) => EvalRequest | ImportanceRequest): Promise<Answer> {
    if (params.length !== this.opts.paramCount) {
      return Promise.reject(new CrowdtrainError('SHAPE_MISMATCH', `evaluation of run ${this.opts.runName} got ${params.length} parameters, the model has ${this.opts.paramCount}`));
    }
    if (this.failure) return Promise.reject(this.failure);
    const request = make(this.nextId++, params.slice());
    const result = new Promise<Answer>((resolve, reject) => this.waiters.set(request.id, { resolve, reject }));
    this.ready.then(
      () => {
        if (this.waiters.has(request.id)) this.worker.postMessage(request, [request.params.buffer]);
      },
      (err: unknown) => this.failAll(err instanceof CrowdtrainError ? err : new CrowdtrainError('INTERNAL', String(err))),
    );
    return result;
  }

  /** Terminates the thread; pending evaluations reject. Resolves when it has ended. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      void this.worker.terminate();
    }
    return this.exited;
  }

  private failAll(err: CrowdtrainError): void {
    this.failure ??= err;
    const waiting = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiting) w.reject(err);
  }
}
