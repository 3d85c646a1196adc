import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { describeZodError, GradChunkSchema, type GradCommit } from '../../core/protocol/messages.ts';
import { ChunkAssembler } from '../../core/codec/chunking.ts';
import { bytesPerGradientValue, decodeGradientInto, type GradientCompression } from '../../core/codec/gradient-compression.ts';
import { validateUpdate } from '../../core/aggregate/validate-update.ts';
import { createReduceArena, type ReduceArena } from '../../core/aggregate/reduce-arena.ts';
import { UpdateNormBound, type UpdateNormSetting } from '../../core/aggregate/update-norm-bound.ts';

/** How a run's inbox checks incoming result vectors. */
export interface UpdateInboxOptions {
  runId: string;
  /** Values per result vector (the flat parameter count). */
  paramCount: number;
  compression: GradientCompression;
  /** Results with a larger L2 norm are rejected: an absolute bound, or relative to the fleet (`max_update_norm`). */
  maxUpdateNorm: UpdateNormSetting;
}

/** One accepted result: the slice it answers (by its first sample index, unique in a round) and its values. */
interface AcceptedResult {
  firstIndex: number;
  sampleCount: number;
  values: Float32Array;
}

interface Pending {
  step: number;
  assembler: ChunkAssembler | null;
  error: CrowdtrainError | null;
  bytes: number;
}

/**
 * The coordinator's receive path for workers' result vectors (gradients in ddp): chunks are
 * assembled per worker and step, decoded (from 16 bits under gradient compression) straight into
 * a slot of one reduce arena, and validated (length, every value finite, L2 norm) before anything
 * touches shared state. A bad chunk poisons that worker's result for the step; the commit then
 * fails with the chunk's error.
 * @example
 * inbox.beginRound(assignments.length);
 * inbox.receiveChunk(workerId, raw);          // for every grad:chunk
 * const values = inbox.accept(workerId, msg); // at grad:commit; throws CrowdtrainError
 */
export class UpdateInbox {
  private readonly pending = new Map<string, Pending>();
  /** A worker's accepted results this round, in order: its own slice, then any backup slices it answered. */
  private readonly accepted = new Map<string, AcceptedResult[]>();
  /** First sample index of every slice answered this round: a slice is answered once (first answer wins). */
  private readonly answered = new Set<number>();
  private readonly norms: UpdateNormBound;
  private arena: ReduceArena | null = null;
  private nextSlot = 0;
  private roundBytes = 0;

  constructor(private readonly opts: UpdateInboxOptions) {
    this.norms = new UpdateNormBound(opts.maxUpdateNorm);
  }

  /** The L2 norm bound a result must meet now (absolute, or relative to the recently accepted norms). */
  get currentNormBound(): number {
    return this.norms.current();
  }

  /** Bytes of result chunks received since the round began. */
  get bytesThisRound(): number {
    return this.roundBytes;
  }

  /** A `paramCount`-long buffer in the arena that an update rule may reduce into (SIMD when its inputs are arena slots too). */
  get scratch(): Float32Array | undefined {
    return this.arena?.out;
  }

  /** Starts a round of `workers` assignments: forgets every pending and accepted result, sizes the arena. */
  beginRound(workers: number): void {
    this.pending.clear();
    this.accepted.clear();
    this.answered.clear();
    this.roundBytes = 0;
    if (!this.arena || this.arena.slots < workers) this.arena = createReduceArena(this.opts.paramCount, Math.max(4, workers));
    this.nextSlot = 0;
  }

  /** Handles one result chunk; returns the bytes it carried (0 when ignored or invalid). */
  receiveChunk(workerId: string, raw: unknown): number {
    const parsed = GradChunkSchema.safeParse(raw);
    if (!parsed.success) {
      this.pending.set(workerId, { step: -1, assembler: null, error: new CrowdtrainError('INVALID_MESSAGE', `grad:chunk: ${describeZodError(parsed.error)}`), bytes: 0 });
      return 0;
    }
    const msg = parsed.data;
    if (msg.runId !== this.opts.runId) return 0;
    let p = this.pending.get(workerId);
    if (!p || p.step !== msg.step) {
      p = { step: msg.step, assembler: null, error: null, bytes: 0 };
      this.pending.set(workerId, p);
      const { paramCount, compression } = this.opts;
      const expected = paramCount * bytesPerGradientValue(compression);
      if (msg.totalBytes !== expected) {
        p.error = new CrowdtrainError(
          'SHAPE_MISMATCH',
          `gradient has ${msg.totalBytes} bytes, expected ${expected} (${paramCount} values, gradient_compression ${compression})`,
        );
        return 0;
      }
      try {
        p.assembler = new ChunkAssembler(msg.totalBytes, msg.count);
      } catch (err) {
        p.error = asCrowdtrainError(err);
        return 0;
      }
    }
    if (p.error || !p.assembler) return 0;
    try {
      p.assembler.add(msg.index, msg.bytes);
    } catch (err) {
      p.error = asCrowdtrainError(err);
      return 0;
    }
    p.bytes += msg.bytes.byteLength;
    this.roundBytes += msg.bytes.byteLength;
    return msg.bytes.byteLength;
  }

  /**
   * Takes a worker's committed result for `msg.step` while the run is at `round.step` and the
   * worker holds `round.slice`: checks the assignment and sample count, decodes and validates the
   * values and keeps them for the round. Returns the values and the bytes they arrived in; throws
   * CrowdtrainError (STALE_UPDATE, NOT_ASSIGNED, DUPLICATE_UPDATE, SHAPE_MISMATCH,
   * INVALID_MESSAGE, NON_FINITE, NORM_TOO_LARGE) otherwise. A worker may answer a second slice of
   * the round (a backup task); a slice already answered, by anyone, is a DUPLICATE_UPDATE: the
   * first valid answer wins. Pending chunks are dropped either way.
   */
  accept(
    workerId: string,
    msg: GradCommit,
    round: { step: number; collecting: boolean; slice: readonly number[] | undefined },
  ): { values: Float32Array; bytes: number } {
    const p = this.pending.get(workerId);
    this.pending.delete(workerId);
    const currentVersion = round.step;
    if (!round.collecting || msg.step !== round.step || !round.slice) {
      throw new CrowdtrainError(
        msg.step < round.step ? 'STALE_UPDATE' : 'NOT_ASSIGNED',
        `no slice of step ${msg.step} is assigned to worker ${workerId} (run is at step ${round.step})`,
      );
    }
    const firstIndex = round.slice[0] ?? -1;
    if (this.answered.has(firstIndex)) {
      const own = this.accepted.get(workerId)?.some((a) => a.firstIndex === firstIndex);
      throw new CrowdtrainError(
        'DUPLICATE_UPDATE',
        own ? `worker ${workerId} already sent step ${msg.step}` : `the slice of step ${msg.step} that worker ${workerId} holds was already answered by another worker`,
      );
    }
    if (msg.sampleCount !== round.slice.length) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `update claims ${msg.sampleCount} samples, the slice has ${round.slice.length}`);
    }
    if (!p || p.step !== msg.step) throw p?.error ?? new CrowdtrainError('INVALID_MESSAGE', `no gradient chunks received for step ${msg.step}`);
    if (p.error) throw p.error;
    if (!p.assembler?.complete) throw new CrowdtrainError('INVALID_MESSAGE', `gradient for step ${msg.step} is incomplete`);
    const values = this.decodeIntoSlot(p.assembler);
    const { compression } = this.opts;
    const maxNorm = this.norms.current();
    const { norm } = validateUpdate(values, {
      expectedLength: this.opts.paramCount,
      maxNorm,
      paramsVersion: msg.paramsVersion,
      currentVersion,
      maxStaleness: 0,
      // An fp16 value beyond +-65504 arrives as Infinity: say why, and what to do.
      infinityHint: compression === 'fp16' ? 'fp16 holds magnitudes up to 65504; use gradient_compression: bf16 for larger gradients' : undefined,
    });
    if (!Number.isFinite(msg.loss)) throw new CrowdtrainError('NON_FINITE', `reported loss is ${msg.loss}`);
    this.norms.observe(norm);
    const list = this.accepted.get(workerId) ?? [];
    list.push({ firstIndex, sampleCount: msg.sampleCount, values });
    this.accepted.set(workerId, list);
    this.answered.add(firstIndex);
    return { values, bytes: p.bytes };
  }

  /**
   * The accepted result of a worker in this round. With `sampleCount` (what the run machine
   * counted for it), a worker that also answered backup slices gets the mean of its first results
   * that add up to that count, weighted by their sample counts; undefined when none do.
   */
  resultOf(workerId: string, sampleCount?: number): Float32Array | undefined {
    const list = this.accepted.get(workerId);
    const first = list?.[0];
    if (!list || !first) return undefined;
    if (sampleCount === undefined || sampleCount === first.sampleCount) return first.values;
    let covered = 0;
    let k = 0;
    while (k < list.length && covered < sampleCount) covered += list[k++]!.sampleCount;
    if (covered !== sampleCount) return undefined;
    // Merged into the first result's slot (the merged result replaces the parts it covers).
    const out = first.values;
    for (let i = 0; i < out.length; i++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += list[j]!.sampleCount * list[j]!.values[i]!;
      out[i] = sum / sampleCount;
    }
    list.splice(0, k, { firstIndex: first.firstIndex, sampleCount, values: out });
    return out;
  }

  /** Forgets whatever a worker sent this round (it left or was evicted). */
  drop(workerId: string): void {
    this.pending.delete(workerId);
    for (const a of this.accepted.get(workerId) ?? []) this.answered.delete(a.firstIndex);
    this.accepted.delete(workerId);
  }

  /** Decodes an assembled result into the next free arena slot (or a fresh array if none is left). */
  private decodeIntoSlot(assembler: ChunkAssembler): Float32Array {
    const { compression, paramCount } = this.opts;
    const slot = this.arena && this.nextSlot < this.arena.slots ? this.arena.slot(this.nextSlot++) : new Float32Array(paramCount);
    if (compression === 'none' && assembler.totalBytes === slot.byteLength) {
      assembler.copyInto(new Uint8Array(slot.buffer, slot.byteOffset, slot.byteLength));
      return slot;
    }
    return decodeGradientInto(assembler.result(), compression, slot);
  }
}

/** The error as a CrowdtrainError (INVALID_MESSAGE for anything else). */
function asCrowdtrainError(err: unknown): CrowdtrainError {
  if (err instanceof CrowdtrainError) return err;
  return new CrowdtrainError('INVALID_MESSAGE', err instanceof Error ? err.message : String(err), { cause: err });
}
