/**
 * Observes, without changing anything, what an in-process Coordinator sends to and receives from
 * its workers, and when it applies each update: the raw material of the per-step breakdown
 * (step-breakdown.ts). Uses socket.io's catch-all listeners (`onAny`, `onAnyOutgoing`) on the
 * coordinator's server, plus its public 'update' event.
 */
import { Server, type Socket } from 'socket.io';
import { GradChunkSchema, GradCommitSchema, ParamsChunkSchema, StepAssignSchema } from '../../core/protocol/messages.ts';
import type { Coordinator } from '../../coordinator/coordinator.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import type { TrafficRecord } from './step-breakdown.ts';

/** A live recording of one coordinator's per-step traffic. */
export interface CoordinatorTrafficTap {
  /** Everything recorded so far, in arrival order. */
  records(): readonly TrafficRecord[];
  /** Stops recording (listeners stay attached to sockets but become no-ops). */
  stop(): void;
}

/**
 * The coordinator's socket.io server. The Coordinator does not expose it (it is an internal of the
 * shell); the bench reads the field, checks it really is a socket.io Server, and only listens.
 */
function serverOf(coordinator: Coordinator): Server {
  const io: unknown = Reflect.get(coordinator, 'io');
  if (!(io instanceof Server)) {
    throw new Error('coordinator has no socket.io server in field "io" any more; update bench/support/coordinator-traffic-tap.ts');
  }
  return io as Server;
}

/**
 * Starts recording. Attach before workers connect (sockets already connected are tapped too).
 * @example const tap = tapCoordinatorTraffic(coordinator); ...; const steps = breakDownSteps(tap.records());
 */
export function tapCoordinatorTraffic(coordinator: Coordinator, now: () => number = () => performance.now()): CoordinatorTrafficTap {
  const io = serverOf(coordinator);
  const recorded: TrafficRecord[] = [];
  let active = true;

  const onIncoming = (event: string, ...args: unknown[]): void => {
    if (!active) return;
    const t = now();
    if (event === 'grad:chunk') {
      const m = GradChunkSchema.safeParse(args[0]);
      if (m.success) recorded.push({ kind: 'gradChunkIn', t, step: m.data.step, bytes: m.data.bytes.byteLength });
    } else if (event === 'grad:commit') {
      const m = GradCommitSchema.safeParse(args[0]);
      if (m.success) recorded.push({ kind: 'commitIn', t, step: m.data.step, computeMs: m.data.computeMs, sampleCount: m.data.sampleCount, loss: m.data.loss });
    }
  };
  const onOutgoing = (event: string, ...args: unknown[]): void => {
    if (!active) return;
    const t = now();
    if (event === 'params:chunk') {
      const m = ParamsChunkSchema.safeParse(args[0]);
      if (m.success) recorded.push({ kind: 'paramsOut', t, version: m.data.version, bytes: m.data.bytes.byteLength });
    } else if (event === 'step:assign') {
      const m = StepAssignSchema.safeParse(args[0]);
      if (m.success) recorded.push({ kind: 'assignOut', t, step: m.data.step, samples: m.data.indices.byteLength / 4 });
    }
  };
  const attach = (socket: Socket): void => {
    socket.onAny(onIncoming);
    socket.onAnyOutgoing(onOutgoing);
  };
  for (const socket of io.of('/').sockets.values()) attach(socket);
  io.on('connection', attach);
  const onUpdate = (u: AppliedUpdate): void => {
    if (active) recorded.push({ kind: 'applied', t: now(), step: u.step, trainLoss: u.trainLoss });
  };
  coordinator.events.on('update', onUpdate);

  return {
    records: () => recorded,
    stop: () => {
      active = false;
      io.off('connection', attach);
      coordinator.events.off('update', onUpdate);
    },
  };
}
