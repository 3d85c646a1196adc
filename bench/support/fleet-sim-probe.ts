/**
 * What the fleet-sim bench measures inside the coordinator's process over a steady-state window:
 * CPU time (process.cpuUsage: every thread of the process, user + system), event-loop delay
 * (perf_hooks.monitorEventLoopDelay), wall time, and the bytes its TCP sockets read and wrote
 * (every connection of the coordinator's HTTP server, so framing and pings are counted). Also the
 * yardstick the CPU is expressed in: one Float32Array.set of a gradient.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Coordinator } from '../../coordinator/coordinator.ts';
import type { RecordEventInput } from '../../prisma/queries/event-queries.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';

/** One measured window. */
export interface WindowMeasure {
  wallMs: number;
  /** CPU of the whole process (user + system), ms. */
  cpuMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop delay percentiles over the window, ms. */
  eventLoopP50Ms: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** Bytes the coordinator's sockets read (worker -> coordinator) and wrote. */
  bytesIn: number;
  bytesOut: number;
}

/**
 * The coordinator's HTTP server. The Coordinator does not expose it; the bench reads the field,
 * checks it really is an http.Server, and only counts its sockets' bytes.
 */
function serverOf(coordinator: Coordinator): http.Server {
  const server: unknown = Reflect.get(coordinator, 'server');
  if (!(server instanceof http.Server)) {
    throw new Error('coordinator has no http.Server in field "server" any more; update bench/support/fleet-sim-probe.ts');
  }
  return server as http.Server;
}

/**
 * Watches a coordinator in this process. Create it before any worker connects (the byte counts
 * cover the connections made after that).
 * @example const probe = new CoordinatorProbe(c); probe.begin(); ...; const m = probe.end();
 */
export class CoordinatorProbe {
  private readonly sockets = new Set<net.Socket>();
  private readonly server: http.Server;
  private readonly onConnection = (s: net.Socket) => this.sockets.add(s);
  private window: { t: number; cpu: NodeJS.CpuUsage; bytesIn: number; bytesOut: number; eld: ReturnType<typeof monitorEventLoopDelay> } | null = null;

  constructor(coordinator: Coordinator) {
    this.server = serverOf(coordinator);
    this.server.on('connection', this.onConnection);
  }

  /** Connections seen so far. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Wall time since begin() of the open window, ms (0 when none is open). */
  get openWindowMs(): number {
    return this.window ? performance.now() - this.window.t : 0;
  }

  /** Starts a window now. */
  begin(): void {
    const eld = monitorEventLoopDelay({ resolution: 5 });
    const { bytesIn, bytesOut } = this.bytes();
    eld.enable();
    this.window = { t: performance.now(), cpu: process.cpuUsage(), bytesIn, bytesOut, eld };
  }

  /** Ends the window begun last; its measures. */
  end(): WindowMeasure {
    const w = this.window;
    if (!w) throw new Error('CoordinatorProbe.end() without begin()');
    this.window = null;
    const cpu = process.cpuUsage(w.cpu);
    const wallMs = performance.now() - w.t;
    w.eld.disable();
    const { bytesIn, bytesOut } = this.bytes();
    const ms = (ns: number) => ns / 1e6;
    return {
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      eventLoopP50Ms: ms(w.eld.percentile(50)),
      eventLoopP99Ms: ms(w.eld.percentile(99)),
      eventLoopMaxMs: ms(w.eld.max),
      bytesIn: bytesIn - w.bytesIn,
      bytesOut: bytesOut - w.bytesOut,
    };
  }

  /** Stops watching the server. */
  detach(): void {
    this.server.off('connection', this.onConnection);
    this.window?.eld.disable();
    this.window = null;
  }

  private bytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0;
    let bytesOut = 0;
    for (const s of this.sockets) {
      bytesIn += s.bytesRead;
      bytesOut += s.bytesWritten;
    }
    return { bytesIn, bytesOut };
  }
}

/**
 * A V8 CPU profile of this process over a window (node:inspector), for finding where the
 * coordinator's time goes; written as a `.cpuprofile` (open it in Chrome DevTools or speedscope).
 * @example const p = await WindowProfiler.start(); ...; await p.stopTo('/tmp/fleet-1024.cpuprofile');
 */
export class WindowProfiler {
  private constructor(private readonly session: Session) {}

  /** Starts sampling every `intervalUs` microseconds. */
  static async start(intervalUs = 500): Promise<WindowProfiler> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    return new WindowProfiler(session);
  }

  /** Stops sampling and writes the profile to `file`. */
  async stopTo(file: string): Promise<void> {
    try {
      const { profile } = await this.session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
    } finally {
      this.session.disconnect();
    }
  }
}

/**
 * Median time (ms) of one `dst.set(src)` of `length` float32 values, over `samples` timed calls
 * after a warm-up: the unit the bench expresses the coordinator's CPU per worker per update in.
 * @example const ms = float32SetMedianMs(101_770); // ~0.01-0.05 ms on a laptop
 */
export function float32SetMedianMs(length: number, samples = 2001): number {
  if (!Number.isInteger(length) || length < 1) throw new Error(`length ${length} must be a positive integer`);
  const src = new Float32Array(length);
  for (let i = 0; i < length; i++) src[i] = Math.sin(i);
  const dst = new Float32Array(length);
  for (let i = 0; i < 200; i++) dst.set(src);
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    dst.set(src);
    times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  // Keep the copies observable so no engine can drop them.
  if (dst[length - 1] !== src[length - 1]) throw new Error('Float32Array.set did not copy');
  times.sort();
  return times[samples >> 1]!;
}

/** Counts the Events (by kind) a coordinator's runs record while counting is on. */
export interface EventKindCounter {
  start(): void;
  stop(): Record<string, number>;
  /** Puts the store's recordEvent back as it was. */
  restore(): void;
}

/**
 * Wraps `store.recordEvent` (an own property over whatever is there now; restore() puts that back)
 * to count the kinds of the Events recorded: backups answered, slices reassigned, rejections.
 * @example const events = countEventKinds(c.store); events.start(); ...; events.stop(); // { backup_answered: 2 }
 */
export function countEventKinds(store: TrackingStore): EventKindCounter {
  const target = store as unknown as Record<string, unknown>;
  const hadOwn = Object.hasOwn(target, 'recordEvent');
  const previous = target.recordEvent as TrackingStore['recordEvent'];
  let counts: Record<string, number> | null = null;
  target.recordEvent = function counted(input: RecordEventInput) {
    if (counts) counts[input.kind] = (counts[input.kind] ?? 0) + 1;
    return previous.call(store, input);
  };
  return {
    start: () => {
      counts = {};
    },
    stop: () => {
      const c = counts ?? {};
      counts = null;
      return c;
    },
    restore: () => {
      if (hadOwn) target.recordEvent = previous;
      else delete target.recordEvent;
    },
  };
}
