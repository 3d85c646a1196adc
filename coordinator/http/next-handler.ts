import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import next from 'next';

const debug = createDebug('crowdtrain:http:next');

/** Options for {@link createNextRequestHandler}. */
export interface NextRequestHandlerOptions {
  /** The Next.js project directory (holds app/, next.config.js and, in production, .next/). */
  dir: string;
  /** Run `next dev` in-process instead of serving the production build (default false). */
  dev?: boolean;
  /** Port the public server listens on (Next uses it for absolute URLs; default 3000). */
  port?: number;
  /** Hostname the public server listens on (default 'localhost'). */
  hostname?: string;
}

/** A prepared Next.js app behind plain Node http callbacks. */
export interface NextRequestHandler {
  /** Serves one request; never rejects (an internal Next error becomes a 500 or a destroyed response). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /**
   * Passes a WebSocket upgrade to Next (only dev-mode HMR under `/_next/` needs this); the
   * caller decides which upgrades to forward. Returns false when Next has no upgrade handler yet
   * (before the first request), in which case the caller should destroy the socket.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Shuts Next down and removes what it attached to the process. */
  close(): Promise<void>;
}

type ProcessErrorEvent = 'uncaughtException' | 'unhandledRejection' | 'rejectionHandled';
type ProcessListener = (...args: unknown[]) => void;
const PROCESS_ERROR_EVENTS: readonly ProcessErrorEvent[] = ['uncaughtException', 'unhandledRejection', 'rejectionHandled'];
/** Key under which Next keeps the unhandledRejection listener it (re-)registers on every request. */
const NEXT_UNHANDLED_REJECTION_KEY = Symbol.for('next.unhandledRejectionListener');

interface NextProcessGlobals {
  nextInitializedProcessErrorHandlers?: boolean;
  [NEXT_UNHANDLED_REJECTION_KEY]?: ProcessListener;
}

function processListeners(event: ProcessErrorEvent): ProcessListener[] {
  return process.listeners(event as 'uncaughtException') as unknown as ProcessListener[];
}

/**
 * Prepares Next.js (production mode unless `dev`) from `dir` and returns its request handler for
 * a Node http server that the caller owns.
 *
 * Two things Next does by default are undone, because they would break the coordinator:
 * - On its first request Next adds an `upgrade` listener to `req.socket.server` that routes every
 *   WebSocket upgrade (including `/socket.io/`) through Next and ends the socket when a page route
 *   matches. Here that listener goes to a private, never-listening server instead; use
 *   `handleUpgrade` to forward the upgrades you want Next to see.
 * - Next installs process-wide `uncaughtException`/`unhandledRejection` listeners that only log,
 *   and patches `process.on` with an unhandled-rejection filter, so the coordinator would keep
 *   running after a crash-worthy bug. The filter is disabled (`NEXT_UNHANDLED_REJECTION_FILTER`,
 *   unless already set) and the listeners are removed after `prepare()` and after every request;
 *   Node's default (crash) applies again outside the short window of a Next request.
 *
 * @example
 * const nextApp = await createNextRequestHandler({ dir: process.cwd(), port: 3000 });
 * const server = http.createServer((req, res) => {
 *   if (req.url?.startsWith('/api/v1/')) return void api(req, res);
 *   void nextApp.handle(req, res);
 * });
 * io.attach(server); // socket.io keeps sole ownership of upgrades on /socket.io/
 * // on shutdown: await nextApp.close(); server.close();
 */
export async function createNextRequestHandler(opts: NextRequestHandlerOptions): Promise<NextRequestHandler> {
  const nextGlobals = globalThis as NextProcessGlobals;
  // Next installs its log-only uncaughtException listener once per process, guarded by this flag.
  nextGlobals.nextInitializedProcessErrorHandlers = true;
  // Read when Next's server modules load (during prepare): without it Next patches process.on and
  // routes every unhandled rejection through a filter that logs instead of crashing. The filter
  // only matters for aborted prerenders with `cacheComponents`, which this app does not use.
  process.env.NEXT_UNHANDLED_REJECTION_FILTER ??= 'disabled';
  // No network here and no reason to report usage from a training coordinator.
  process.env.NEXT_TELEMETRY_DISABLED ??= '1';
  const listenersBefore = new Map(PROCESS_ERROR_EVENTS.map((event) => [event, new Set(processListeners(event))]));
  const addedByNext = new Map<ProcessErrorEvent, ProcessListener[]>();

  const removeNextProcessErrorHandlers = (): void => {
    for (const [event, listeners] of addedByNext) {
      for (const listener of listeners) process.removeListener(event, listener);
    }
    const rejectionListener = nextGlobals[NEXT_UNHANDLED_REJECTION_KEY];
    if (rejectionListener && !listenersBefore.get('unhandledRejection')?.has(rejectionListener)) {
      process.removeListener('unhandledRejection', rejectionListener);
    }
  };

  // Next attaches its upgrade listener to this server instead of the caller's real one.
  const upgradeSink = createServer();
  const app = next({
    dir: opts.dir,
    dev: opts.dev ?? false,
    port: opts.port,
    hostname: opts.hostname,
    httpServer: upgradeSink,
  });
  debug('preparing Next.js in %s (dev=%s)', opts.dir, opts.dev ?? false);
  try {
    await app.prepare();
  } finally {
    for (const event of PROCESS_ERROR_EVENTS) {
      const before = listenersBefore.get(event);
      addedByNext.set(event, processListeners(event).filter((listener) => !before?.has(listener)));
    }
    removeNextProcessErrorHandlers();
  }
  const nextHandle = app.getRequestHandler();
  debug('Next.js ready');

  return {
    async handle(req, res) {
      try {
        await nextHandle(req, res);
      } catch (err) {
        debug('Next.js failed on %s %s: %O', req.method, req.url, err);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end('internal error while rendering the page');
        } else {
          res.destroy(err instanceof Error ? err : undefined);
        }
      } finally {
        removeNextProcessErrorHandlers();
      }
    },
    handleUpgrade(req, socket, head) {
      return upgradeSink.emit('upgrade', req, socket, head);
    },
    async close() {
      debug('closing Next.js');
      try {
        await app.close();
      } finally {
        upgradeSink.removeAllListeners('upgrade');
        removeNextProcessErrorHandlers();
      }
    },
  };
}
