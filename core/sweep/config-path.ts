import { CrowdtrainError } from '../protocol/errors.ts';
import type { JsonValue } from './search-space.ts';

/** The parts of a zod 4 schema's definition that a path walk reads (zod's `_zod.def`). */
interface SchemaDef {
  type: string;
  shape?: Record<string, SchemaLike>;
  innerType?: SchemaLike;
  in?: SchemaLike;
  out?: SchemaLike;
  options?: SchemaLike[];
  left?: SchemaLike;
  right?: SchemaLike;
  element?: SchemaLike;
  getter?: () => SchemaLike;
}

/** A zod schema seen structurally (every zod 4 schema has `_zod.def`). */
export interface SchemaLike {
  _zod: { def: SchemaDef };
}

/** Wrappers whose inner schema holds the value's shape. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);

/**
 * The keys a schema accepts at its top (the union of an object union's keys), or null when it
 * is not an object. Wrappers, pipes (z.preprocess) and unions are looked through.
 */
function childSchemas(schema: SchemaLike, segment: string): { found: SchemaLike[]; keys: string[] | null } {
  const def = schema._zod.def;
  if (WRAPPERS.has(def.type) && def.innerType) return childSchemas(def.innerType, segment);
  if (def.type === 'lazy' && def.getter) return childSchemas(def.getter(), segment);
  const merge = (parts: SchemaLike[]) => {
    const results = parts.map((s) => childSchemas(s, segment));
    const keys = results.flatMap((r) => r.keys ?? []);
    return { found: results.flatMap((r) => r.found), keys: results.some((r) => r.keys) ? [...new Set(keys)] : null };
  };
  if (def.type === 'pipe' && def.in && def.out) return def.in._zod.def.type === 'transform' ? childSchemas(def.out, segment) : childSchemas(def.in, segment);
  if (def.type === 'union' && def.options) return merge(def.options);
  if (def.type === 'intersection' && def.left && def.right) return merge([def.left, def.right]);
  if (def.type === 'object' && def.shape) {
    const child = Object.hasOwn(def.shape, segment) ? def.shape[segment] : undefined;
    return { found: child ? [child] : [], keys: Object.keys(def.shape) };
  }
  if (def.type === 'array' && def.element) {
    return { found: /^(0|[1-9]\d*)$/.test(segment) ? [def.element] : [], keys: ['<index>'] };
  }
  return { found: [], keys: null };
}

/**
 * Checks that a dotted path names a key of `schema` (through nested objects, unions of objects
 * and array indices); throws CrowdtrainError('INVALID_CONFIG') naming the first segment that does
 * not exist and the keys that do.
 * @example assertPathInSchema(RunConfigSchema, 'optimizer.lr', 'space.optimizer.lr')
 */
export function assertPathInSchema(schema: SchemaLike, path: string, where: string): void {
  const segments = splitPath(path, where);
  let current: SchemaLike[] = [schema];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const results = current.map((s) => childSchemas(s, segment));
    const found = results.flatMap((r) => r.found);
    if (found.length === 0) {
      const parent = segments.slice(0, i).join('.') || 'a run config';
      const keys = [...new Set(results.flatMap((r) => r.keys ?? []))];
      const known = keys.length ? `; its keys are ${keys.join(', ')}` : `; ${parent} is not an object`;
      throw new CrowdtrainError('INVALID_CONFIG', `${where}: path "${path}" does not exist in the run config schema: ${parent} has no key "${segment}"${known}`);
    }
    current = found;
  }
}

/** Splits a dotted path into its segments, refusing empty ones. */
export function splitPath(path: string, where: string): string[] {
  const segments = path.split('.');
  if (segments.some((s) => s.length === 0)) {
    throw new CrowdtrainError('INVALID_CONFIG', `${where}: "${path}" is not a dotted path (empty segment)`);
  }
  return segments;
}

/** A deep copy of a JSON-like value (structuredClone keeps it portable and free of shared references). */
function cloneJson<T>(value: T): T {
  return structuredClone(value);
}

/**
 * A copy of `base` with `value` set at each dotted path of `values` (missing intermediate objects
 * are created, an array index replaces that element). `base` is not changed.
 * @example setPaths({ optimizer: { name: 'adam', lr: 1e-3 } }, { 'optimizer.lr': 0.01 }) // { optimizer: { name: 'adam', lr: 0.01 } }
 */
export function setPaths(base: Readonly<Record<string, unknown>>, values: Readonly<Record<string, JsonValue>>): Record<string, unknown> {
  const out = cloneJson(base) as Record<string, unknown>;
  for (const [path, value] of Object.entries(values)) {
    const segments = splitPath(path, 'space');
    let node: Record<string, unknown> | unknown[] = out;
    for (let i = 0; i < segments.length - 1; i++) {
      const key = segments[i]!;
      const next = (node as Record<string, unknown>)[key];
      if (next !== null && typeof next === 'object') {
        node = next as Record<string, unknown>;
      } else {
        const created: Record<string, unknown> | unknown[] = /^\d+$/.test(segments[i + 1]!) ? [] : {};
        (node as Record<string, unknown>)[key] = created;
        node = created;
      }
    }
    (node as Record<string, unknown>)[segments[segments.length - 1]!] = cloneJson(value);
  }
  return out;
}
