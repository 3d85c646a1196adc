import { CHUNK_BYTES } from '../../core/protocol/version.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { describeZodError, RunReadySchema, type RunAssign } from '../../core/protocol/messages.ts';
import { splitIntoChunks } from '../../core/codec/chunking.ts';
import { float32ToBytes } from '../../core/codec/float-bytes.ts';
import type { Assignment } from '../../core/run/run-machine.ts';
import type { WorkerHandle } from './worker-handle.ts';

interface Member {
  handle: WorkerHandle;
  /** The params version this worker was last sent (-1: none, or it must be resent). */
  sentVersion: number;
}

/**
 * The workers serving one run and what each has been sent: a round's assignments go out with the
 * current parameters, as binary chunks, only to workers that lack that version.
 */
export class RunMembers {
  private readonly members = new Map<string, Member>();

  /** Adds a worker that is being offered the run (the machine learns when it is ready). Returns false if it is already a member. */
  add(handle: WorkerHandle): boolean {
    if (this.members.has(handle.id)) return false;
    this.members.set(handle.id, { handle, sentVersion: -1 });
    return true;
  }

  /**
   * Sends the run to a member and checks its readiness ack (same parameter count);
   * throws CrowdtrainError with the worker's or the mismatch's reason.
   */
  async offer(handle: WorkerHandle, msg: RunAssign): Promise<void> {
    const res = await handle.assignRun(msg);
    if (!res.ok) throw new CrowdtrainError(res.error.code, res.error.message);
    const ready = RunReadySchema.safeParse(res);
    if (!ready.success) throw new CrowdtrainError('INVALID_MESSAGE', `run:assign ack: ${describeZodError(ready.error)}`);
    if (ready.data.paramCount !== msg.paramCount) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `worker model has ${ready.data.paramCount} parameters, expected ${msg.paramCount}`);
    }
  }

  /** Whether `handle` is still the member registered under its id. */
  holds(handle: WorkerHandle): boolean {
    return this.members.get(handle.id)?.handle === handle;
  }

  /** Whether a worker is a member. */
  has(workerId: string): boolean {
    return this.members.has(workerId);
  }

  /** Removes a member; returns its handle if it was one. */
  remove(workerId: string): WorkerHandle | undefined {
    const m = this.members.get(workerId);
    this.members.delete(workerId);
    return m?.handle;
  }

  /** Makes the next assignment resend the parameters to this worker. */
  forgetSentParams(workerId: string): void {
    const m = this.members.get(workerId);
    if (m) m.sentVersion = -1;
  }

  /**
   * Sends a round: to each assigned member, the parameters of `paramsVersion` (if it lacks them)
   * and its slice. Returns the parameter bytes sent to each worker.
   */
  sendRound(
    runId: string,
    round: { step: number; epoch: number; paramsVersion: number; assignments: readonly Assignment[] },
    params: Float32Array,
  ): Map<string, number> {
    const sent = new Map<string, number>();
    let chunks: Uint8Array[] | null = null;
    let total = 0;
    for (const a of round.assignments) {
      const m = this.members.get(a.workerId);
      if (!m) continue;
      if (m.sentVersion !== round.paramsVersion) {
        if (!chunks) {
          const bytes = float32ToBytes(params);
          total = bytes.byteLength;
          chunks = splitIntoChunks(bytes, CHUNK_BYTES);
        }
        const count = chunks.length;
        chunks.forEach((bytes, index) => m.handle.sendParamsChunk({ runId, version: round.paramsVersion, index, count, totalBytes: total, bytes }));
        m.sentVersion = round.paramsVersion;
        sent.set(a.workerId, total);
      }
      const idx = Uint32Array.from(a.indices);
      m.handle.assignStep({ runId, step: round.step, epoch: round.epoch, paramsVersion: round.paramsVersion, indices: new Uint8Array(idx.buffer) });
    }
    return sent;
  }

  /** Every member's handle (for the end-of-run message). */
  handles(): WorkerHandle[] {
    return [...this.members.values()].map((m) => m.handle);
  }

  /** Removes every member. */
  clear(): void {
    this.members.clear();
  }
}
