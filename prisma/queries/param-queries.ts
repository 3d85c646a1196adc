/** Run hyperparameters: logged flat (dotted keys, text values) and read back (a part of TrackingStore). */
import type { TrackingPrismaClient } from '../db.ts';
import { mapRunError, toJson } from './query-guards.ts';

/** The param queries of {@link TrackingStore}. */
export class ParamQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Logs hyperparameters: nested objects flatten to dotted keys (`optimizer.lr`), arrays and
   * other non-strings are stored as JSON text, strings as is. Re-logging a key overwrites it.
   */
  async logParams(runId: string, params: Record<string, unknown>): Promise<void> {
    const flat = flattenParams(params);
    if (flat.length === 0) return;
    try {
      await this.prisma.$transaction(
        flat.map(([key, value]) =>
          this.prisma.param.upsert({
            where: { runId_key: { runId, key } },
            create: { runId, key, value },
            update: { value },
          }),
        ),
      );
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** The run's params as a flat key -> value map. */
  async getParams(runId: string): Promise<Record<string, string>> {
    const rows = await this.prisma.param.findMany({ where: { runId }, orderBy: { key: 'asc' } });
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}

/**
 * Flattens params to [dottedKey, text] pairs: plain objects recurse, strings stay as is, every
 * other value (numbers, booleans, null, arrays) becomes JSON text; undefined values are skipped.
 * @example flattenParams({ optimizer: { lr: 0.1 }, layers: [64, 10] }) // [['optimizer.lr','0.1'], ['layers','[64,10]']]
 */
export function flattenParams(params: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(params)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (v === undefined) continue;
    if (isPlainObject(v)) {
      const nested = flattenParams(v, key);
      if (nested.length === 0) out.push([key, '{}']);
      else out.push(...nested);
    } else if (typeof v === 'string') {
      out.push([key, v]);
    } else {
      out.push([key, toJson(`param "${key}"`, v)]);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
