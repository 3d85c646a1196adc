import type { AckResult, ParamsChunk, RunAssign, RunEnd, RunReady, RunRelease, StepAssign } from '../../core/protocol/messages.ts';

/** The coordinator's view of one connected worker, independent of the transport. */
export interface WorkerHandle {
  readonly id: string;
  /** The most samples the worker said one slice may have (its hello's `capabilities.maxBatch`; absent: no cap). */
  readonly maxBatch?: number;
  /** Sends the run; resolves with the worker's readiness ack (or a timeout error). */
  assignRun(msg: RunAssign): Promise<AckResult<RunReady>>;
  sendParamsChunk(msg: ParamsChunk): void;
  assignStep(msg: StepAssign): void;
  endRun(msg: RunEnd): void;
  /** Takes the worker off one run; it stays connected (and may be offered another). */
  releaseRun(msg: RunRelease): void;
  /** Removes the worker from the fleet (it may reconnect and rejoin). */
  evict(reason: string): void;
}
