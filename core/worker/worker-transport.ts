import type { ServerToClientEvents, TypedClientToServerEvents } from '../protocol/messages.ts';

/** The payload (first parameter) of an event listener in one of the protocol's event maps. */
export type EventPayload<F> = F extends (msg: infer M, ...rest: never[]) => void ? M : never;

/** The ack result type of an acknowledged event (`never` for an event without ack). */
export type EventAck<F> = F extends (msg: never, ack: (res: infer R) => void) => void
  ? R
  : F extends (msg: never, ack?: (res: infer R) => void) => void
    ? R
    : never;

type S = ServerToClientEvents;
type C = TypedClientToServerEvents;

/**
 * What the worker loop (WorkerSession) needs from its connection to the coordinator, typed from
 * the protocol's event maps: coordinator events it listens to, worker events it sends. The socket
 * transport (./socket-transport.ts) implements it for node workers, tabs and tests alike.
 */
export interface WorkerTransport {
  /** Registers the run:assign handler; its result is the ack. */
  onRunAssign(handler: (msg: EventPayload<S['run:assign']>) => Promise<EventAck<S['run:assign']>>): void;
  /** Registers the params:chunk handler. */
  onParamsChunk(handler: S['params:chunk']): void;
  /** Registers the step:assign handler. */
  onStepAssign(handler: S['step:assign']): void;
  /** Registers the run:end handler. */
  onRunEnd(handler: S['run:end']): void;
  /** Registers the run:release handler (placement moved this worker off a run; the connection stays). */
  onRunRelease(handler: S['run:release']): void;
  /** Sends one chunk of a step's result vector (dropped while disconnected: the slice is reassigned anyway). */
  sendGradChunk(msg: EventPayload<C['grad:chunk']>): void;
  /** Commits a step after its chunks; resolves with the coordinator's ack (an error result when disconnected or unanswered). */
  commitGradient(msg: EventPayload<C['grad:commit']>): Promise<EventAck<C['grad:commit']>>;
  /** Tells the coordinator this worker cannot compute an assigned step (e.g. it lacks that params version). */
  declineStep(msg: EventPayload<C['step:decline']>): void;
}
