import { firstNonFinite } from '../../core/codec/float-bytes.ts';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { z } from 'zod';
import { describeZodError } from '../../core/protocol/messages.ts';
import type { OptimizerState } from '../../core/optim/optimizer-state.ts';
import type { MachineSnapshot } from '../../core/run/run-machine.ts';
import { DEFAULT_MODE } from '../../core/run/modes.ts';

const MAGIC = 'CTCKPT1\n';

/** Everything needed to continue a run exactly: params, the update rule's (optimizer) state, and the mode's machine snapshot. */
export interface CheckpointContent {
  runId: string;
  /** The training mode that wrote it (checkpoints from before modes existed are `ddp`). */
  mode: string;
  step: number;
  params: Float32Array;
  optimizer: OptimizerState;
  machine: MachineSnapshot;
  bestMetric: number | null;
  createdAt: string;
}

const Count = z.int().min(0);
const HeaderSchema = z.object({
  runId: z.string().min(1),
  mode: z.string().min(1).default(DEFAULT_MODE),
  step: Count,
  paramCount: Count,
  optimizer: z.object({ name: z.string(), step: Count, slots: z.array(z.object({ name: z.string().min(1), length: Count })) }),
  machine: z.looseObject({ step: Count }),
  bestMetric: z.number().nullable(),
  createdAt: z.string(),
});
type Header = z.output<typeof HeaderSchema>;

/**
 * Encodes a checkpoint: magic, uint32 header length, JSON header, then the float32 params and
 * each optimizer slot, little-endian, 4-byte aligned.
 */
export function encodeCheckpoint(c: CheckpointContent): Buffer {
  const slotNames = Object.keys(c.optimizer.slots).sort();
  const header: Header = {
    runId: c.runId,
    mode: c.mode,
    step: c.step,
    paramCount: c.params.length,
    optimizer: {
      name: c.optimizer.name,
      step: c.optimizer.step,
      slots: slotNames.map((name) => ({ name, length: c.optimizer.slots[name]?.length ?? 0 })),
    },
    machine: c.machine,
    bestMetric: c.bestMetric,
    createdAt: c.createdAt,
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32LE(json.length, 0);
  const arrays = [c.params, ...slotNames.map((n) => c.optimizer.slots[n] ?? new Float32Array(0))];
  return Buffer.concat([
    Buffer.from(MAGIC, 'latin1'),
    lenBuf,
    json,
    ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)),
  ]);
}

/** Decodes and validates a checkpoint; throws CHECKPOINT_INVALID naming what is wrong. */
export function decodeCheckpoint(buf: Buffer, source = 'checkpoint'): CheckpointContent {
  const bad = (why: string) => new CrowdtrainError('CHECKPOINT_INVALID', `${source}: ${why}`);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw bad('not a crowdtrain checkpoint');
  const len = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + len > buf.length) throw bad(`header length ${len} exceeds file size ${buf.length}`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8', start, start + len));
  } catch (err) {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `${source}: unreadable header`, { cause: err });
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) throw bad(`invalid header: ${describeZodError(parsed.error)}`);
  const header = parsed.data;
  let offset = start + len;
  const take = (n: number, what: string): Float32Array => {
    const bytes = n * 4;
    if (offset + bytes > buf.length) throw bad(`truncated: ${what} needs ${bytes} bytes at offset ${offset}, file has ${buf.length}`);
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(buf.subarray(offset, offset + bytes));
    offset += bytes;
    const at = firstNonFinite(out);
    if (at >= 0) {
      const bits = new Uint32Array(out.buffer, 4 * at, 1)[0] ?? 0;
      throw bad(`${what}[${at}] is ${bits & 0x007fffff ? 'NaN' : bits >>> 31 ? '-Infinity' : 'Infinity'}: a checkpoint must hold finite values only`);
    }
    return out;
  };
  const params = take(header.paramCount, 'params');
  const slots: Record<string, Float32Array> = {};
  for (const s of header.optimizer.slots) slots[s.name] = take(s.length, `optimizer slot ${s.name}`);
  if (offset !== buf.length) throw bad(`${buf.length - offset} unexpected trailing bytes`);
  return {
    runId: header.runId,
    mode: header.mode,
    step: header.step,
    params,
    optimizer: { name: header.optimizer.name, step: header.optimizer.step, slots },
    machine: header.machine,
    bestMetric: header.bestMetric,
    createdAt: header.createdAt,
  };
}

/** The first non-finite index of a float32 array (core/codec/float-bytes.ts), re-exported for the checkpoint checks' callers. */
export { firstNonFinite };

/** fsyncs a directory so a rename in it survives a crash; platforms that cannot (EISDIR, EINVAL, EPERM) are skipped. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh?.close();
  }
}

/**
 * Writes a checkpoint atomically and durably: a temp file, fsynced, renamed over the final name,
 * then the directory fsynced (so the rename itself survives a power loss); returns its path,
 * sha256 and size.
 */
export async function writeCheckpointFile(
  dir: string,
  c: CheckpointContent,
  label: string,
): Promise<{ path: string; sha256: string; sizeBytes: number }> {
  await mkdir(dir, { recursive: true });
  const buf = encodeCheckpoint(c);
  const file = path.join(dir, `${label}.ckpt`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
  return { path: file, sha256: createHash('sha256').update(buf).digest('hex'), sizeBytes: buf.length };
}

/** Reads a checkpoint, verifying its sha256 when one is given. */
export async function readCheckpointFile(file: string, sha256?: string): Promise<CheckpointContent> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `cannot read checkpoint ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (sha256) {
    const actual = createHash('sha256').update(buf).digest('hex');
    if (actual !== sha256) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `checkpoint ${file} is corrupt: sha256 ${actual}, expected ${sha256}`);
    }
  }
  return decodeCheckpoint(buf, file);
}
