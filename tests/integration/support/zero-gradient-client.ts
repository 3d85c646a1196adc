/**
 * A worker whose backend "computes" zeros (like a broken GPU read-back): every gradient it sends is
 * well-formed, finite and small, so validation accepts it; only the fleet-agreement check can tell.
 * It is the shared test worker (the real worker loop over a real socket.io connection) with its
 * result replaced by zeros.
 */
import { joinTestWorker, zeroResult, type TestWorker, type TestWorkerSocket } from './test-worker.ts';

/** A connected zero-gradient worker; `close()` disconnects it. */
export interface ZeroGradientClient {
  workerId: string;
  socket: TestWorkerSocket;
  worker: TestWorker;
  /** Leaves and disconnects (in the background). */
  close(): void;
}

/**
 * Joins as a browser tab named `name` and answers every step with zeros: the payload is float32
 * zeros (whatever the run's gradient compression) unless `gradientBytes` builds it from the
 * parameter count some other way.
 */
export async function joinZeroGradientClient(
  url: string,
  token: string,
  name = 'broken-tab',
  gradientBytes: (paramCount: number) => Uint8Array = (n) => new Uint8Array(n * 4),
): Promise<ZeroGradientClient> {
  let paramCount = 0;
  const worker = await joinTestWorker({
    url,
    token,
    name,
    kind: 'browser',
    backend: 'webgpu',
    transformResult: (values, ctx) => {
      paramCount = ctx.paramCount;
      return zeroResult(values);
    },
    // The bytes on the wire are the payload above, not the loop's encoding of the zeros.
    tamper: { resultBytes: () => gradientBytes(paramCount) },
  });
  return { workerId: worker.workerId, socket: worker.socket, worker, close: () => void worker.close() };
}
