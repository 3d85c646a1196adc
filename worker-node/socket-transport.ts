import { io, type Socket } from 'socket.io-client';
import type { AckResult, ClientToServerEvents, ServerToClientEvents } from '../core/protocol/messages.ts';
import { PROTOCOL_VERSION } from '../core/protocol/version.ts';
import type { WorkerTransport } from '../core/worker/worker-transport.ts';

/** A worker's Socket.io connection to the coordinator. */
export type WorkerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Opens a reconnecting Socket.io connection with the join token and protocol version in the handshake. */
export function connectWorkerSocket(url: string, token: string): WorkerSocket {
  return io(url, {
    auth: { token, protocolVersion: PROTOCOL_VERSION },
    transports: ['websocket'],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
  });
}

/** Adapts a Socket.io client socket to the transport the shared worker loop uses. */
export function socketTransport(socket: WorkerSocket, commitTimeoutMs = 120_000): WorkerTransport {
  // Gradients are only meaningful on the connection whose step assignment they answer: the
  // coordinator reassigns a disconnected worker's slice. So never buffer them across a reconnect
  // (socket.io would otherwise flush them before this worker's new hello).
  socket.on('disconnect', () => {
    socket.sendBuffer.length = 0;
  });
  return {
    onRunAssign: (handler) =>
      socket.on('run:assign', (msg, ack) => {
        void handler(msg).then((res) => {
          if (typeof ack === 'function') ack(res);
        });
      }),
    onParamsChunk: (handler) => socket.on('params:chunk', handler),
    onStepAssign: (handler) => socket.on('step:assign', handler),
    onRunEnd: (handler) => socket.on('run:end', handler),
    declineStep: (msg) => {
      if (socket.connected) socket.emit('step:decline', msg);
    },
    sendGradChunk: (msg) => {
      if (socket.connected) socket.emit('grad:chunk', msg);
    },
    commitGradient: async (msg) => {
      if (!socket.connected) {
        return { ok: false, error: { code: 'NOT_ASSIGNED', message: `disconnected before step ${msg.step} was committed; the coordinator reassigns the slice` } };
      }
      try {
        const res = (await socket.timeout(commitTimeoutMs).emitWithAck('grad:commit', msg)) as AckResult<{ accepted: true }>;
        return res;
      } catch (err) {
        return { ok: false, error: { code: 'INTERNAL', message: `no ack for grad:commit: ${(err as Error).message}` } };
      }
    },
  };
}
