import createDebug from 'debug';
import { CrowdtrainError, toWireError, type ErrorCode } from '../../core/protocol/errors.ts';
import { describeZodError, GradCommitSchema, StepDeclineSchema, type AckResult } from '../../core/protocol/messages.ts';
import type { RunConfig } from '../../core/config/common-config.ts';
import { modeOf, modeSetup, TRAINING_MODES } from '../../core/run/modes.ts';
import type { TaskSpec, TrainingMode, UpdateRule, WorkerResult } from '../../core/run/training-mode.ts';
import type { Assignment, RunEffect, RunEvent, RunMachine, StopReason } from '../../core/run/run-machine.ts';
import type { RunOutcome, RunSessionOptions } from './run-session-options.ts';
import type { CheckpointContent } from './checkpoint-file.ts';
import type { WorkerHandle } from './worker-handle.ts';
import { UpdateInbox } from './update-inbox.ts';
import { RunRecorder, type RunProgress } from './run-recorder.ts';
import { RunCheckpointer } from './run-checkpointer.ts';
import { RunMembers } from './run-members.ts';
import { RunModel } from './run-model.ts';
import { AgreementMonitor } from './agreement-monitor.ts';
import { notify } from './notify.ts';
import { MAX_ARENA_BYTES, arenaSlotBytes } from '../../core/aggregate/reduce-arena.ts';
import { classificationReport, reportMetrics } from '../../core/metrics/classification-report.ts';
import { EVALUATION_REPORT_EVENT, type EvaluationReportDetail } from '../../core/api/evaluation-report.ts';
import { FEATURE_IMPORTANCE_EVENT, type FeatureImportanceDetail } from '../../core/api/feature-importance.ts';
import { DEFAULT_IMPORTANCE_REPEATS, importanceMetrics } from '../../core/metrics/permutation-importance.ts';

const debug = createDebug('crowdtrain:run');

export type { MetricPoint } from './metric-buffer.ts';
export type { RunProgress } from './run-recorder.ts';
export { loadRunCheckpoint } from './run-checkpointer.ts';

/** Default memory for one round's results: 2 GiB (the whole fleet's results of a round are held until it applies). */
export const RESULT_MEMORY_BYTES = 2 * 1024 ** 3;

function resultMemoryOf(bytes: number | undefined): number {
  return Math.min(bytes ?? RESULT_MEMORY_BYTES, MAX_ARENA_BYTES);
}

/** How many results of `paramCount` values the result memory holds (the arena keeps two more vectors). */
export function memberCapOf(paramCount: number, resultMemoryBytes?: number): number {
  return Math.max(0, Math.floor(resultMemoryOf(resultMemoryBytes) / arenaSlotBytes(paramCount)) - 2);
}

/** Refuses (INVALID_CONFIG naming the limit) a run whose min_workers results cannot all be held at once. */
export function checkResultMemory(config: RunConfig, paramCount: number, resultMemoryBytes?: number): void {
  const cap = memberCapOf(paramCount, resultMemoryBytes);
  if (config.min_workers <= cap) return;
  throw new CrowdtrainError(
    'INVALID_CONFIG',
    `run ${config.name} needs min_workers ${config.min_workers} results of ${paramCount} parameters in memory at once, ` +
      `but the result memory limit (${resultMemoryOf(resultMemoryBytes)} bytes, --result-memory-mb) holds ${cap}; lower min_workers or raise the limit`,
  );
}
export type { AppliedUpdate, RunOutcome, RunSessionOptions } from './run-session-options.ts';

/**
 * The shell around one run: performs its mode's machine effects in order, through a single
 * promise chain. The parts it wires, each named after its job: the mode (machine + update rule +
 * worker task, from the registry), {@link RunMembers} (who serves the run, what they were sent),
 * {@link UpdateInbox} (results in: chunks, decode, validation), {@link RunRecorder} (metrics,
 * events, counters, progress), {@link RunCheckpointer}, {@link RunModel} (init and evaluation) and
 * {@link AgreementMonitor}. Nothing here depends on which mode runs.
 */
export class RunSession {
  readonly runId: string;
  readonly config: RunConfig;
  private readonly opts: RunSessionOptions;
  private model!: RunModel;
  private machine!: RunMachine;
  private rule!: UpdateRule;
  private task!: TaskSpec;
  private params!: Float32Array;
  private inbox!: UpdateInbox;
  private recorder!: RunRecorder;
  private checkpointer!: RunCheckpointer;
  private agreement!: AgreementMonitor;
  private readonly members = new RunMembers();
  private chain: Promise<void> = Promise.resolve();
  /** The evaluations started and not yet recorded, in step order (see the 'evaluate' effect). */
  private evaluations: Promise<void> = Promise.resolve();
  private evaluationsInFlight = 0;
  private deadline: NodeJS.Timeout | null = null;
  /** The wake-up the machine asked for (armWake), e.g. to back up a late slice. */
  private wake: NodeJS.Timeout | null = null;
  private timeLimitTimer: NodeJS.Timeout | null = null;
  private round: { startedAt: number; bytesOut: number; assignments: Assignment[] } = { startedAt: 0, bytesOut: 0, assignments: [] };
  private ended: RunOutcome | null = null;
  private resolveDone!: (o: RunOutcome) => void;
  /** Resolves when the run has finished, stopped or failed, and everything is written. */
  readonly done: Promise<RunOutcome>;

  private constructor(opts: RunSessionOptions) {
    this.opts = opts;
    this.runId = opts.runId;
    this.config = opts.config;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /**
   * Builds the model, data, machine and update rule, restoring a checkpoint when given; throws
   * (CHECKPOINT_INVALID, INVALID_CONFIG, ...) with nothing started and nothing written when any of
   * it does not fit. {@link start} then starts training; {@link discard} drops an unstarted session.
   */
  static async open(opts: RunSessionOptions): Promise<RunSession> {
    const s = new RunSession(opts);
    let mode: TrainingMode;
    try {
      mode = modeOf(opts.config, opts.modes ?? TRAINING_MODES);
    } catch (err) {
      opts.model?.dispose();
      throw err;
    }
    s.model = opts.model ?? (await RunModel.open(opts.config));
    try {
      checkResultMemory(opts.config, s.model.paramCount, opts.resultMemoryBytes);
      s.init(mode, opts.resumeFrom);
    } catch (err) {
      s.model.dispose();
      throw err;
    }
    return s;
  }

  /** Starts training: the time limit is armed and the machine starts (it waits for min_workers). */
  start(): void {
    const c = this.config;
    if (c.time_limit !== null) {
      const margin = Math.min(60_000, Math.max(1000, c.time_limit * 0.05));
      this.timeLimitTimer = setTimeout(
        () => this.dispatch({ type: 'stop', reason: 'time_limit', detail: `time_limit of ${c.time_limit} ms nearly reached` }),
        Math.max(0, c.time_limit - margin),
      );
      this.timeLimitTimer.unref();
    }
    this.dispatch({ type: 'start' });
  }

  /** Releases a session that was opened but never started. */
  discard(): void {
    if (this.ended) return;
    this.ended = { status: 'stopped', step: this.machine.step, reason: 'discarded before it started', evalAccuracy: null, evalLoss: null };
    this.model.dispose();
  }

  private init(mode: TrainingMode, resume?: CheckpointContent): void {
    const c = this.config;
    const paramCount = this.model.paramCount;
    const setup = {
      ...modeSetup(mode, c, { datasetSize: this.model.datasetSize, paramCount }),
      layout: this.model.layout,
      services: { runId: this.runId, shardOwners: this.opts.shardOwners },
    };
    this.rule = mode.createUpdateRule(setup);
    this.task = mode.workerTask(setup);
    if (resume) {
      if (resume.mode !== mode.name) {
        throw new CrowdtrainError('CHECKPOINT_INVALID', `checkpoint of run ${this.runId} was written by mode ${resume.mode}, the run's config says ${mode.name}`);
      }
      if (resume.params.length !== paramCount) {
        throw new CrowdtrainError('CHECKPOINT_INVALID', `checkpoint has ${resume.params.length} parameters, the model of run ${this.runId} has ${paramCount}`);
      }
      this.params = resume.params.slice();
      this.rule.load(resume.optimizer);
      this.machine = mode.createMachine(setup, resume.machine);
    } else {
      this.params = this.model.initialParams();
      this.machine = mode.createMachine(setup);
    }
    this.inbox = new UpdateInbox({ runId: this.runId, paramCount, compression: c.gradient_compression, maxUpdateNorm: c.max_update_norm });
    this.recorder = new RunRecorder(this.opts.store, this.runId, { name: c.name, totalUpdates: c.total_updates }, this.opts, () => this.machine.activeWorkers.length);
    this.checkpointer = new RunCheckpointer(this.opts.store, this.runId, mode.name, this.opts.dataDir, resume?.bestMetric ?? null, c.keep_checkpoints);
    this.agreement = new AgreementMonitor(this.recorder, this.opts.onWorkerAgreement);
    Object.assign(this.recorder.progress, { step: this.machine.step, epoch: this.machine.epoch, bestAccuracy: this.checkpointer.bestMetric });
  }

  /** The round's result memory (see RunSessionOptions.resultMemoryBytes). */
  get resultMemoryBytes(): number {
    return resultMemoryOf(this.opts.resultMemoryBytes);
  }

  /**
   * How many workers may serve this run at once: as many results as the result memory holds (a
   * round keeps every result until it applies; the arena has two extra vectors). Placement never
   * gives the run more, so a large fleet on a large model is capped instead of failing the run.
   */
  get memberCap(): number {
    return memberCapOf(this.model.paramCount, this.opts.resultMemoryBytes);
  }

  /** Number of float32 parameters of the run's model. */
  get paramCount(): number {
    return this.model.paramCount;
  }

  /** The current master parameters (a copy). */
  currentParams(): Float32Array {
    return this.params.slice();
  }

  /** Live progress snapshot. */
  status(): RunProgress {
    return this.recorder.snapshot();
  }

  /** Whether the run has ended. */
  get isEnded(): boolean {
    return this.ended !== null;
  }

  /** Whether training is paused. */
  get isPaused(): boolean {
    return this.recorder.progress.status === 'paused';
  }

  /**
   * Offers the run to a connected worker: it builds the model and, once ready, joins the next
   * round. Resolves false when the worker could not join (its reason is recorded as `join_failed`).
   */
  async addWorker(handle: WorkerHandle): Promise<boolean> {
    if (this.ended || !this.members.add(handle)) return false;
    try {
      await this.members.offer(handle, {
        runId: this.runId,
        name: this.config.name,
        seed: this.config.seed,
        model: this.config.model,
        dataset: this.config.dataset,
        paramCount: this.paramCount,
        gradientCompression: this.config.gradient_compression,
        task: this.task,
      });
      if (!this.members.holds(handle) || this.ended) return true;
      await this.recorder.contribution(handle.id, {});
      // It may have left while the row was written: then its leave is already handled.
      if (!this.members.holds(handle) || this.ended) return true;
      this.dispatch({ type: 'workerReady', workerId: handle.id, ...(handle.maxBatch !== undefined ? { maxBatch: handle.maxBatch } : {}) });
      return true;
    } catch (err) {
      if (this.members.holds(handle)) this.members.remove(handle.id);
      const e = toWireError(err);
      debug('worker %s could not join run %s: %s', handle.id, this.runId, e.message);
      await this.recorder.event('join_failed', e, handle.id).catch((dbErr: unknown) => debug('could not record join_failed: %O', dbErr));
      return false;
    }
  }

  /**
   * Takes a member off this run without disconnecting it (placement moves it to another run, or
   * the run paused): it gets `run:release`, its undelivered slice goes back to the sampler.
   */
  releaseWorker(workerId: string, reason: string): void {
    const handle = this.members.remove(workerId);
    if (!handle) return;
    // As for a leave: a result it already delivered stays (the machine counts it for the round).
    handle.releaseRun({ runId: this.runId, reason });
    this.dispatch({ type: 'workerLeft', workerId, reason: `released: ${reason}` });
  }

  /** Whether a worker serves (or is being offered) this run. */
  hasMember(workerId: string): boolean {
    return this.members.has(workerId);
  }

  /** A worker disconnected or left: its slice goes back to the sampler. */
  removeWorker(workerId: string, reason: string): void {
    if (!this.members.remove(workerId)) return;
    // A result it already delivered stays: the machine counts it for the round (the commit may
    // be queued ahead of this leave). An undelivered slice goes back to the sampler.
    this.dispatch({ type: 'workerLeft', workerId, reason });
  }

  /** Requests a graceful stop: finishes or abandons the current update, checkpoints, ends. */
  stop(reason: Exclude<StopReason, 'failed'> = 'stopped', detail?: string): Promise<RunOutcome> {
    this.dispatch({ type: 'stop', reason, detail });
    return this.done;
  }

  /**
   * Ends the session at once without writing anything more (no checkpoint, no status, no metric):
   * another coordinator has taken the run over, and its records are now that coordinator's.
   */
  abandon(reason: string): void {
    if (this.ended) return;
    const { progress } = this.recorder;
    this.ended = { status: 'stopped', step: this.machine.step, reason, evalAccuracy: progress.evalAccuracy, evalLoss: progress.evalLoss };
    if (this.deadline) clearTimeout(this.deadline);
    if (this.timeLimitTimer) clearTimeout(this.timeLimitTimer);
    for (const h of this.members.handles()) h.endRun({ runId: this.runId, status: 'stopped', reason });
    this.members.clear();
    // The chain may still be inside an effect; the model goes once it has settled.
    void this.chain.finally(() => this.model.dispose());
    this.resolveDone(this.ended);
  }

  /** Holds training (the current update is abandoned, its samples go back); the run stays open. */
  async pause(): Promise<void> {
    if (this.ended || this.isPaused) return;
    this.dispatch({ type: 'pause' });
    await this.recorder.setStatus('paused');
    this.recorder.emitProgress();
  }

  /** Continues a paused run. */
  async unpause(): Promise<void> {
    if (this.ended || !this.isPaused) return;
    this.dispatch({ type: 'unpause' });
    await this.recorder.setStatus('running');
    this.recorder.emitProgress();
  }

  /**
   * A worker says it cannot compute its slice of a step (e.g. it lacks that params version): the
   * slice is reassigned now, and the next assignment resends the params.
   */
  async declineStep(workerId: string, raw: unknown, recordEvent?: (runId: string, kind: string, detail: Record<string, unknown>) => Promise<void>): Promise<void> {
    if (!this.members.has(workerId)) return;
    const parsed = StepDeclineSchema.safeParse(raw);
    if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `step:decline: ${describeZodError(parsed.error)}`);
    const msg = parsed.data;
    if (msg.runId !== this.runId) return;
    this.members.forgetSentParams(workerId);
    // The caller may route the Event through its coalescer (repeated declines: one row with a count).
    const detail = { step: msg.step, code: msg.code, reason: msg.reason };
    if (recordEvent) await recordEvent(this.runId, 'step_declined', detail);
    else await this.recorder.event('step_declined', detail, workerId);
    this.dispatch({ type: 'resultRejected', workerId, step: msg.step, code: msg.code, reason: `declined by the worker: ${msg.reason}` });
  }

  /** Handles one result chunk from a worker; an invalid chunk poisons that worker's result for the step. */
  receiveChunk(workerId: string, raw: unknown): void {
    if (this.members.has(workerId)) this.inbox.receiveChunk(workerId, raw);
  }

  /**
   * Handles a worker's commit: the assembled result is validated (slice, sample count, params
   * version, length, finite values, norm) before anything touches the parameters.
   */
  async receiveCommit(workerId: string, raw: unknown): Promise<AckResult<{ accepted: true }>> {
    const member = this.members.has(workerId);
    const parsed = GradCommitSchema.safeParse(raw);
    let step = -1;
    try {
      if (!member) throw new CrowdtrainError('NOT_ASSIGNED', `worker ${workerId} is not part of run ${this.runId}`);
      if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `grad:commit: ${describeZodError(parsed.error)}`);
      const msg = parsed.data;
      step = msg.step;
      if (msg.runId !== this.runId) throw new CrowdtrainError('RUN_NOT_FOUND', `run ${msg.runId} is not the active run ${this.runId}`);
      const m = this.machine;
      const { bytes } = this.inbox.accept(workerId, msg, { step: m.step, collecting: m.currentPhase === 'collecting', slice: m.sliceOf(workerId) });
      this.recorder.count(workerId, { bytesIn: bytes });
      const elapsedMs = performance.now() - this.round.startedAt;
      this.dispatch({ type: 'resultAccepted', workerId, step: msg.step, sampleCount: msg.sampleCount, loss: msg.loss, accuracy: msg.accuracy, elapsedMs });
      return { ok: true, accepted: true };
    } catch (err) {
      const e = asCrowdtrainError(err, 'INTERNAL');
      debug('rejected update from %s: %s %s', workerId, e.code, e.message);
      // A commit too malformed to name its step costs the worker its current slice (reassigned now,
      // whether or not the records below can be written).
      if (member) this.dispatch({ type: 'resultRejected', workerId, step: step >= 0 ? step : this.machine.step, code: e.code, reason: e.message });
      try {
        await this.recorder.event('update_rejected', { step, code: e.code, reason: e.message }, workerId);
        await this.recorder.contribution(workerId, { rejected: 1, rejectReason: `${e.code}: ${e.message}` });
      } catch (dbErr) {
        debug('could not record the rejection: %O', dbErr);
      }
      return { ok: false, error: toWireError(e) };
    }
  }

  /** Queues an event for the machine; effects run in order before the next event. */
  private dispatch(event: RunEvent): void {
    this.chain = this.chain
      .then(async () => {
        if (this.ended) return;
        await this.performAll(this.machine.dispatch(event), event.type);
      })
      .catch((err: unknown) => this.fail(err));
  }

  private async performAll(effects: RunEffect[], cause: string): Promise<void> {
    debug('%s %s -> %o', this.runId, cause, effects.map((e) => e.type));
    for (const fx of effects) await this.perform(fx);
  }

  private async perform(fx: RunEffect): Promise<void> {
    switch (fx.type) {
      case 'assign':
        if (fx.backup) this.sendBackup(fx);
        else this.sendRound(fx);
        return;
      case 'armDeadline':
        if (this.deadline) clearTimeout(this.deadline);
        this.deadline = setTimeout(() => this.dispatch({ type: 'deadline', step: fx.step }), this.config.step_timeout);
        this.deadline.unref();
        return;
      case 'armWake':
        if (this.wake) clearTimeout(this.wake);
        this.wake = setTimeout(() => this.dispatch({ type: 'wake', step: fx.step }), fx.afterMs);
        this.wake.unref();
        return;
      case 'applyUpdate':
        await this.applyUpdate(fx);
        return;
      case 'evaluate': {
        // Off the event loop, and the chain goes on (the params are copied at the call): training
        // does not wait for an evaluation, but at most one is in flight when the next starts, so
        // results lag by at most one eval interval (schedulers such as ASHA act on them) and at
        // most two parameter copies wait. Results arrive in step order; a checkpoint waits for
        // them (below), so its best-metric decision sees every evaluation before it.
        if (this.evaluationsInFlight > 0) await this.evaluations;
        this.evaluationsInFlight += 1;
        const done = this.evaluate(fx.step)
          .catch((err: unknown) => this.fail(err))
          .finally(() => (this.evaluationsInFlight -= 1));
        this.evaluations = this.evaluations.then(() => done);
        return;
      }
      case 'checkpoint': {
        // Everything logged up to a checkpoint is durable before the checkpoint is: a crash never
        // leaves a checkpoint whose metric history has holes.
        await this.evaluations;
        await this.recorder.flushMetrics();
        const written = await this.checkpointer.write({ step: fx.step, reason: fx.reason, snapshot: fx.snapshot, params: this.params, ruleState: await this.rule.state() });
        notify(this.opts.onCheckpoint, written);
        return;
      }
      case 'evict':
        this.inbox.drop(fx.workerId);
        this.members.remove(fx.workerId)?.evict(fx.reason);
        return;
      case 'record':
        await this.recorder.event(fx.kind, fx.detail, fx.workerId);
        return;
      case 'finished':
        await this.finish({ status: fx.status, step: fx.step, reason: fx.reason });
        return;
      default: {
        const never: never = fx;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  private sendRound(fx: Extract<RunEffect, { type: 'assign' }>): void {
    const startedAt = performance.now();
    this.inbox.beginRound(fx.assignments.length);
    const sent = this.members.sendRound(this.runId, fx, this.params);
    let bytesOut = 0;
    for (const [workerId, bytes] of sent) {
      bytesOut += bytes;
      this.recorder.count(workerId, { bytesOut: bytes });
    }
    this.round = { startedAt, bytesOut, assignments: fx.assignments };
  }

  /** Backup tasks within the round in progress: its other assignments and results stand. */
  private sendBackup(fx: Extract<RunEffect, { type: 'assign' }>): void {
    for (const [workerId, bytes] of this.members.sendRound(this.runId, fx, this.params)) {
      this.round.bytesOut += bytes;
      this.recorder.count(workerId, { bytesOut: bytes });
    }
    this.round.assignments = [...this.round.assignments, ...fx.assignments];
  }

  private async applyUpdate(fx: Extract<RunEffect, { type: 'applyUpdate' }>): Promise<void> {
    if (this.deadline) clearTimeout(this.deadline);
    if (this.wake) clearTimeout(this.wake);
    const results: WorkerResult[] = fx.contributions.map((c) => {
      const values = this.inbox.resultOf(c.workerId, c.sampleCount);
      if (!values) throw new Error(`result of ${c.workerId} for step ${fx.step} is missing`);
      return { ...c, values };
    });
    await this.agreement.observe(results, fx.step);
    const outcome = await this.rule.apply(this.params, results, fx.step, this.inbox.scratch);
    for (const e of outcome.events ?? []) await this.recorder.event(e.kind, { step: fx.step, ...e.detail });
    const stepMs = performance.now() - this.round.startedAt;
    const trainLoss = this.recorder.recordUpdate({ ...fx, lr: outcome.lr, ruleMetrics: outcome.metrics, stepMs, bytesIn: this.inbox.bytesThisRound, bytesOut: this.round.bytesOut });
    if (this.opts.onUpdateApplied) {
      const ids = new Set(fx.contributions.map((c) => c.workerId));
      const slices = fx.slices ?? this.round.assignments.filter((a) => ids.has(a.workerId));
      notify(this.opts.onUpdateApplied, { runId: this.runId, step: fx.step, epoch: fx.epoch, trainLoss, slices });
    }
    // Feed the result back; effects of the next round run in this same chain.
    const effects = this.machine.dispatch({ type: 'updateApplied', step: fx.step });
    // Start the next round first, so workers compute while we evaluate and checkpoint. Safe: the
    // params and rule state cannot change before this chain link ends, and checkpoint effects
    // carry the machine snapshot taken before the round drew its batch.
    const startsRound = (e: RunEffect) => e.type === 'assign' || e.type === 'armDeadline';
    await this.performAll(effects.filter(startsRound), 'updateApplied');
    this.recorder.flushContributionsSoon();
    await this.performAll(effects.filter((e) => !startsRound(e)), 'updateApplied');
  }

  /**
   * Evaluates the master params of `step` in the run's evaluation thread (copied at once), then
   * records the result: eval_loss, eval_accuracy, the report's macro (and, up to 32 classes,
   * per-class) precision/recall/F1, and the whole report with its confusion matrix as one
   * `evaluation_report` Event.
   */
  private async evaluate(step: number): Promise<void> {
    const { loss, accuracy, confusion } = await this.model.evaluateOffThread(this.params);
    const time = new Date();
    const report = classificationReport(confusion, this.model.classNames);
    this.recorder.metrics([
      { key: 'eval_loss', step, value: loss, time },
      { key: 'eval_accuracy', step, value: accuracy, time },
      ...Object.entries(reportMetrics(report)).map(([key, value]) => ({ key, step, value, time })),
    ]);
    Object.assign(this.recorder.progress, { evalLoss: loss, evalAccuracy: accuracy });
    if (this.checkpointer.observeMetric(accuracy)) this.recorder.progress.bestAccuracy = accuracy;
    const detail: EvaluationReportDetail = { step, ...report };
    await this.recorder.event(EVALUATION_REPORT_EVENT, detail);
  }

  private async finish(outcome: Omit<RunOutcome, 'evalAccuracy' | 'evalLoss'>): Promise<void> {
    if (this.ended) return;
    const { progress } = this.recorder;
    const full: RunOutcome = { ...outcome, evalAccuracy: progress.evalAccuracy, evalLoss: progress.evalLoss };
    this.ended = full;
    if (this.deadline) clearTimeout(this.deadline);
    if (this.wake) clearTimeout(this.wake);
    if (this.timeLimitTimer) clearTimeout(this.timeLimitTimer);
    if (outcome.status === 'finished') await this.recordFeatureImportance(outcome.step);
    await this.recorder.recordEnd(full);
    for (const h of this.members.handles()) h.endRun({ runId: this.runId, status: outcome.status, reason: outcome.reason });
    this.members.clear();
    this.rule.dispose?.();
    this.model.dispose();
    this.recorder.emitProgress();
    this.resolveDone(full);
  }

  /**
   * A finished run on a csv data set: permutation feature importance of the final params on the
   * test split (seeded by the run's seed), in the evaluation thread, as one `feature_importance`
   * Event, plus an `importance/<column>` metric per column (up to 32) at the final step. A
   * failure is logged and never fails the run.
   */
  private async recordFeatureImportance(step: number): Promise<void> {
    try {
      await this.evaluations;
      const computing = this.model.featureImportanceOffThread(this.params, { repeats: DEFAULT_IMPORTANCE_REPEATS, seed: this.config.seed });
      if (!computing) return;
      const result = await computing;
      const time = new Date();
      this.recorder.metrics(Object.entries(importanceMetrics(result)).map(([key, value]) => ({ key, step, value, time })));
      const detail: FeatureImportanceDetail = { step, metric: 'accuracy', ...result };
      await this.recorder.event(FEATURE_IMPORTANCE_EVENT, detail);
    } catch (err) {
      debug('run %s: no feature importance: %O', this.runId, err);
    }
  }

  private async fail(err: unknown): Promise<void> {
    debug('run %s failed: %O', this.runId, err);
    if (this.ended) return;
    try {
      const rewind = err instanceof CrowdtrainError && err.code === 'SHARD_LOST';
      await this.finish({ status: 'failed', step: this.machine.step, reason: err instanceof Error ? err.message : String(err), ...(rewind ? { rewind } : {}) });
    } catch (e) {
      debug('could not record failure: %O', e);
      this.ended = { status: 'failed', step: this.machine.step, reason: String(err), evalAccuracy: null, evalLoss: null };
      this.resolveDone(this.ended);
    }
  }
}

function asCrowdtrainError(err: unknown, fallback: ErrorCode): CrowdtrainError {
  if (err instanceof CrowdtrainError) return err;
  return new CrowdtrainError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
}
