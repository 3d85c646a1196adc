import type { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../optim/flat-optimizer.ts';
import { parseOptimizerSpec } from '../optim/optimizer-spec.ts';
// bytesToFloat32, not the protocol's float32Of: that copies unaligned bytes with slice(), which for
// a Node Buffer (socket.io delivers them at odd offsets in a shared pool) is a view of the whole pool.
import { bytesToFloat32, firstNonFinite } from '../codec/float-bytes.ts';
import type { ShardLoadSchema, ShardStepSchema } from './shard-protocol.ts';

/** A `shard:load` after validation with ShardLoadSchema (binary fields as Uint8Array). */
export type ValidShardLoad = z.infer<typeof ShardLoadSchema>;
/** A `shard:step` after validation with ShardStepSchema (binary fields as Uint8Array). */
export type ValidShardStep = z.infer<typeof ShardStepSchema>;

/** The optimizer state of one held range: the algorithm, its completed updates and a copy of each slot. */
export interface RangeState {
  name: string;
  updates: number;
  slots: Record<string, Float32Array>;
}


/**
 * One range [start, end) of a sharded run's flat parameter vector, as a shard owner holds it:
 * its own copy of the master parameters and an optimizer over exactly those values. Because every
 * optimizer is elementwise, stepping the range with the range's gradient gives the same values as
 * stepping the whole vector and slicing. Steps must arrive in update order: a step whose `step`
 * differs from the completed update count is refused (STALE_UPDATE), which keeps replicas of a
 * range identical.
 * @example
 * const holder = new RangeHolder(ShardLoadSchema.parse(msg));
 * const params = holder.step(ShardStepSchema.parse(stepMsg)); // the range's new parameters (a copy)
 */
export class RangeHolder {
  readonly runId: string;
  readonly index: number;
  readonly start: number;
  readonly end: number;
  private readonly params: Float32Array;
  private readonly optimizer: FlatOptimizer;
  private readonly slotBytes: number;
  private scratch: Float32Array | undefined;

  /** Builds the range from a validated `shard:load`; throws CrowdtrainError naming a bad spec, length or slot. */
  constructor(msg: ValidShardLoad) {
    this.runId = msg.runId;
    this.index = msg.index;
    this.start = msg.start;
    this.end = msg.end;
    const size = msg.end - msg.start;
    const params = bytesToFloat32(msg.params);
    if (params.length !== size) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `${this.label()} [${msg.start}, ${msg.end}) has ${size} values, but ${params.length} params were sent`);
    }
    const bad = firstNonFinite(params);
    if (bad >= 0) throw new CrowdtrainError('NON_FINITE', `${this.label()}: param ${bad} is ${params[bad]}`);
    this.params = params.slice();
    let spec;
    try {
      spec = parseOptimizerSpec(msg.optimizer);
    } catch (err) {
      throw new CrowdtrainError('INVALID_CONFIG', `${this.label()}: ${(err as Error).message}`, { cause: err });
    }
    this.optimizer = createFlatOptimizer(spec, size);
    if (msg.slots !== undefined || msg.updates > 0) {
      const slots: Record<string, Float32Array> = {};
      if (msg.slots !== undefined) {
        for (const [name, bytes] of Object.entries(msg.slots)) slots[name] = bytesToFloat32(bytes);
      } else {
        // No slots: a fresh optimizer that has completed `updates` updates (plain SGD has none to send).
        Object.assign(slots, this.optimizer.state().slots);
      }
      try {
        this.optimizer.load({ name: spec.name, step: msg.updates, slots });
      } catch (err) {
        const code = err instanceof CrowdtrainError ? err.code : 'CHECKPOINT_INVALID';
        throw new CrowdtrainError(code, `${this.label()}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.slotBytes = Object.values(this.optimizer.state().slots).reduce((sum, values) => sum + values.byteLength, 0);
  }

  /** Number of values in the range (end - start). */
  get size(): number {
    return this.end - this.start;
  }

  /** Completed updates of the range's optimizer (the `step` the next shard:step must carry). */
  get updates(): number {
    return this.optimizer.updates;
  }

  /** The live parameter values of the range (not a copy: read, do not keep). */
  get values(): Float32Array {
    return this.params;
  }

  /** Total bytes of the optimizer's slots for this range. */
  get optimizerBytes(): number {
    return this.slotBytes;
  }

  /**
   * Applies update `msg.step`: the gradient times `msg.scale` through the optimizer at `msg.lr`.
   * Returns a copy of the range's new parameters. Throws CrowdtrainError STALE_UPDATE (out of
   * order), SHAPE_MISMATCH (wrong gradient length) or NON_FINITE (NaN/Infinity in the gradient),
   * leaving the range unchanged.
   */
  step(msg: ValidShardStep): Float32Array {
    if (msg.runId !== this.runId || msg.index !== this.index) {
      throw new CrowdtrainError('NOT_ASSIGNED', `step for range ${msg.index} of run ${msg.runId} sent to ${this.label()}`);
    }
    const updates = this.optimizer.updates;
    if (msg.step !== updates) {
      throw new CrowdtrainError('STALE_UPDATE', `${this.label()} is at update ${updates}, step ${msg.step} asked`);
    }
    const raw = bytesToFloat32(msg.grad);
    if (raw.length !== this.size) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `gradient for ${this.label()} has ${raw.length} values, the range has ${this.size}`);
    }
    let grad = raw;
    if (msg.scale !== 1) {
      this.scratch ??= new Float32Array(this.size);
      grad = this.scratch;
      for (let i = 0; i < raw.length; i++) grad[i] = raw[i]! * msg.scale;
    }
    const bad = firstNonFinite(grad);
    if (bad >= 0) {
      const scaled = grad === raw ? '' : ` after scaling by ${msg.scale} (was ${raw[bad]})`;
      throw new CrowdtrainError('NON_FINITE', `gradient for ${this.label()}: value ${bad} is ${grad[bad]}${scaled}`);
    }
    this.optimizer.step(this.params, grad, msg.lr);
    return this.params.slice();
  }

  /** A copy of the optimizer state: its name, completed updates and slots. */
  state(): RangeState {
    const s = this.optimizer.state();
    return { name: s.name, updates: s.step, slots: s.slots };
  }

  private label(): string {
    return `range ${this.index} of run ${this.runId}`;
  }
}
