import type {
  AckResult,
  GradChunk,
  GradCommit,
  ParamsChunk,
  RunAssign,
  RunEnd,
  RunReady,
  StepAssign,
  StepDecline,
} from '../protocol/messages.ts';

/**
 * What a worker needs from its connection to the coordinator. The node worker and the browser
 * tab implement it over socket.io-client; tests can implement it in memory.
 */
export interface WorkerTransport {
  onRunAssign(handler: (msg: RunAssign) => Promise<AckResult<RunReady>>): void;
  onParamsChunk(handler: (msg: ParamsChunk) => void): void;
  onStepAssign(handler: (msg: StepAssign) => void): void;
  onRunEnd(handler: (msg: RunEnd) => void): void;
  sendGradChunk(msg: GradChunk): void;
  commitGradient(msg: GradCommit): Promise<AckResult<{ accepted: true }>>;
  /** Tells the coordinator this worker cannot compute an assigned step (e.g. it lacks that params version). */
  declineStep(msg: StepDecline): void;
}
