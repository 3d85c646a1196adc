/**
 * Input checks, JSON text and Prisma error mapping shared by the tracking store's query parts
 * (`run-queries.ts`, `metric-queries.ts`, ...). Every check throws a CrowdtrainError naming the
 * value it refused.
 */
import { CrowdtrainError } from '../../core/protocol/errors.ts';

/** An INVALID_MESSAGE error with this message. */
export function invalid(message: string): CrowdtrainError {
  return new CrowdtrainError('INVALID_MESSAGE', message);
}

/** The RUN_NOT_FOUND error of a run id that has no row. */
export function runNotFound(runId: string): CrowdtrainError {
  return new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
}

/** Throws unless `value` is a non-empty string. */
export function requireText(what: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value) ?? 'undefined'}`);
}

/** Throws unless `value` is a safe integer in [min, max]. */
export function requireInt(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/**
 * JSON text for a value; Errors keep name/message/code, bigints become strings.
 * @example toJson('run config', { lr: 0.1 }) // '{"lr":0.1}'
 */
export function toJson(what: string, value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) {
        const code = (v as { code?: unknown }).code;
        return { name: v.name, message: v.message, ...(code === undefined ? {} : { code }) };
      }
      return v;
    });
    return text ?? 'null';
  } catch (cause) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${what} is not JSON-serialisable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The Prisma error code of an error (`P2002` unique, `P2003` foreign key, `P2025` missing row), if it has one. */
export function prismaCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Foreign-key failures on run-scoped writes mean the run does not exist: RUN_NOT_FOUND; other errors pass through. */
export function mapRunError(err: unknown, runId: string): unknown {
  const code = prismaCode(err);
  if (code === 'P2003' || code === 'P2025') return new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`, { cause: err });
  return err;
}
