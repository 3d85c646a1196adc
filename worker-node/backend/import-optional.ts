import debug from 'debug';

const log = debug('crowdtrain:backend');

/** Outcome of importing a module that may not be installed. */
export type OptionalImport<T> =
  | { ok: true; module: T }
  | { ok: false; missing: true; error: unknown }
  | { ok: false; missing: false; error: unknown };

/**
 * Imports `specifier` if it is installed. The specifier is passed through a variable so that
 * TypeScript and bundlers do not require the package to exist. `missing` is true only when the
 * package itself cannot be resolved; a package that is installed but fails to load (a native
 * addon without its shared libraries, a missing transitive dependency) reports `missing: false`.
 * @example
 * const r = await importOptional<{ version: Record<string, string> }>('@tensorflow/tfjs-node-gpu');
 * if (!r.ok && r.missing) console.log('not installed');
 */
export async function importOptional<T>(specifier: string): Promise<OptionalImport<T>> {
  const computed: string = specifier;
  try {
    const module = (await import(/* @vite-ignore */ computed)) as T;
    return { ok: true, module };
  } catch (error) {
    const missing = isModuleNotFound(error, specifier);
    log('optional import of %s failed (missing=%s): %O', specifier, missing, error);
    return missing ? { ok: false, missing: true, error } : { ok: false, missing: false, error };
  }
}

/** True when `error` says that `specifier` itself (not one of its dependencies) was not found. */
function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return error.message.includes(`'${specifier}'`) || error.message.includes(`"${specifier}"`);
}

/** Short, one-line text of any thrown value, for `fallbacks[].reason` and error messages. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
