import { io, type Socket } from 'socket.io-client';
import type { ServerToClientEvents, TypedClientToServerEvents } from '../core/protocol/messages.ts';
import { workerSocketOptions, type WorkerSocketLike } from '../core/worker/socket-transport.ts';

/** A node worker's socket.io connection to the coordinator, typed from the protocol's event maps. */
export type WorkerSocket = Socket<ServerToClientEvents, TypedClientToServerEvents>;

/** Creates the worker socket for a coordinator URL and join token, not yet connected (WorkerConnection.start() connects). */
export function connectWorkerSocket(url: string, token: string): WorkerSocket {
  const socket: WorkerSocket = io(url, workerSocketOptions(token));
  return socket satisfies WorkerSocketLike;
}
