/**
 * The simulated fleet of the fleet-sim bench: a few forked client processes
 * (fleet-sim-client.ts), each hosting its share of the simulated workers. Starts them, waits until
 * every worker has joined, collects their counters and tears them down — SIGKILL for any that do
 * not exit in time, and on the bench's own exit, so no client outlives the bench.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeZodError } from '../../core/protocol/messages.ts';
import { SimReplySchema, type SimReply, type SimRequest, type SimStart, type SimStats } from './fleet-sim-protocol.ts';

const CLIENT_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet-sim-client.ts');

/** What the fleet simulates. */
export interface SimFleetOptions extends Omit<SimStart, 'type' | 'workers' | 'namePrefix' | 'gradient' | 'loss' | 'accuracy'> {
  /** Simulated workers in total. */
  workers: number;
  /** Client processes they are spread over. */
  processes: number;
  /** One precomputed gradient per process (reused round-robin when there are fewer). */
  gradients: readonly { bytes: Uint8Array; loss: number; accuracy: number }[];
  /** How long every worker has to join. */
  joinTimeoutMs: number;
}

/** Counters of every client process added up. */
export type SimFleetStats = SimStats & { firstRefusal: string | null };

/** Sums the counters of the client processes. */
export function addStats(all: readonly SimStats[]): SimFleetStats {
  const sum: SimFleetStats = { steps: 0, refused: 0, firstRefusal: null, refusedSteps: {}, declined: 0, paramsChunks: 0, paramsBytes: 0, assigns: 0, disconnects: 0, disconnectReasons: {} };
  for (const s of all) {
    sum.steps += s.steps;
    sum.refused += s.refused;
    sum.firstRefusal ??= s.firstRefusal;
    for (const [step, n] of Object.entries(s.refusedSteps)) sum.refusedSteps[step] = (sum.refusedSteps[step] ?? 0) + n;
    sum.declined += s.declined;
    sum.paramsChunks += s.paramsChunks;
    sum.paramsBytes += s.paramsBytes;
    sum.assigns += s.assigns;
    sum.disconnects += s.disconnects;
    for (const [reason, n] of Object.entries(s.disconnectReasons)) sum.disconnectReasons[reason] = (sum.disconnectReasons[reason] ?? 0) + n;
  }
  return sum;
}

/**
 * A running simulated fleet.
 * @example const fleet = await SimFleet.start({ url, token, workers: 64, processes: 4, ... }); ...; await fleet.close();
 */
export class SimFleet {
  private readonly exitHook = () => this.killAll();
  private readonly errors: string[] = [];
  private exited: string | null = null;
  private closing = false;

  private constructor(private readonly children: ChildProcess[]) {
    process.once('exit', this.exitHook);
  }

  /** Forks the client processes and resolves once every simulated worker's hello was accepted; tears everything down and rejects otherwise. */
  static async start(opts: SimFleetOptions): Promise<SimFleet> {
    if (!Number.isInteger(opts.processes) || opts.processes < 1 || opts.processes > opts.workers) {
      throw new Error(`processes ${opts.processes} must be an integer in [1, ${opts.workers}]`);
    }
    if (opts.gradients.length === 0) throw new Error('the fleet needs at least one precomputed gradient');
    const children = Array.from({ length: opts.processes }, () =>
      fork(CLIENT_ENTRY, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    const fleet = new SimFleet(children);
    try {
      await fleet.join(opts);
      return fleet;
    } catch (err) {
      await fleet.close();
      throw err;
    }
  }

  /** Errors the clients reported (connect errors, refused hellos, bad requests). */
  get reportedErrors(): readonly string[] {
    return this.errors;
  }

  /** Why a client process ended early, or null while all run. */
  get exitedEarly(): string | null {
    return this.exited;
  }

  private async join(opts: SimFleetOptions): Promise<void> {
    const base = Math.floor(opts.workers / opts.processes);
    const extra = opts.workers % opts.processes;
    const joined = this.children.map((child, i) => {
      const g = opts.gradients[i % opts.gradients.length]!;
      const count = base + (i < extra ? 1 : 0);
      const done = this.nextReply(child, 'joined', opts.joinTimeoutMs);
      this.request(child, {
        type: 'start',
        url: opts.url,
        token: opts.token,
        workers: count,
        namePrefix: `sim${i + 1}`,
        paramCount: opts.paramCount,
        datasetSize: opts.datasetSize,
        gradient: g.bytes,
        loss: g.loss,
        accuracy: g.accuracy,
        connectConcurrency: opts.connectConcurrency,
      });
      return done;
    });
    this.children.forEach((child, i) => {
      child.on('message', (raw: unknown) => {
        const r = SimReplySchema.safeParse(raw);
        if (!r.success) this.errors.push(`client ${i + 1}: unreadable reply: ${describeZodError(r.error)}`);
        else if (r.data.type === 'error' && this.errors.length < 100) this.errors.push(`client ${i + 1}: ${r.data.message}`);
      });
      child.once('exit', (code, signal) => {
        if (!this.closing) this.exited ??= `client process ${i + 1} exited (${signal ?? code})`;
      });
    });
    await Promise.all(joined);
  }

  /** Every client's counters, summed. */
  async stats(timeoutMs = 30_000): Promise<SimFleetStats> {
    const replies = await Promise.all(
      this.children.map((child) => {
        const r = this.nextReply(child, 'stats', timeoutMs);
        this.request(child, { type: 'stats' });
        return r;
      }),
    );
    return addStats(replies.map((r) => (r as Extract<SimReply, { type: 'stats' }>).stats));
  }

  /** Disconnects every simulated worker and ends the client processes (SIGKILL after `graceMs`). */
  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) this.request(child, { type: 'close' });
            else child.kill('SIGTERM');
          }),
      ),
    );
    process.off('exit', this.exitHook);
  }

  private killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  private request(child: ChildProcess, msg: SimRequest): void {
    if (child.connected) child.send(msg);
  }

  /** The next reply of `type` from a child; rejects on its exit, an error it reports, or the timeout. */
  private nextReply(child: ChildProcess, type: 'joined' | 'stats', timeoutMs: number): Promise<SimReply> {
    return new Promise((resolve, reject) => {
      const finish = (err: Error | null, reply?: SimReply) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(reply!);
      };
      const onMessage = (raw: unknown) => {
        const r = SimReplySchema.safeParse(raw);
        if (!r.success) return;
        if (r.data.type === type) finish(null, r.data);
        else if (r.data.type === 'error' && type === 'joined') finish(new Error(`a simulated worker could not join: ${r.data.message}`));
      };
      const onExit = (code: number | null, signal: string | null) => finish(new Error(`a fleet-sim client process exited (${signal ?? code}) while waiting for '${type}'`));
      const timer = setTimeout(() => finish(new Error(`no '${type}' from a fleet-sim client process within ${timeoutMs} ms`)), timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }
}
