/**
 * The plumbing shared by the hand-assembled WebAssembly SIMD kernels (`simd-axpy4.ts`,
 * `robust/simd-compare-exchange.ts`): assembling a module from its header sections and function
 * bodies, compiling it once (null when this engine has no WebAssembly SIMD, so callers fall back
 * to JS), and instantiating it on an imported memory `env.memory`.
 */

function leb128(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

/** The whole module: `header` (every section before the code section) + a code section holding `bodies` in order. */
export function assembleModule(header: Uint8Array, bodies: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const code = [...leb128(bodies.length), ...bodies.flatMap((body) => [...leb128(body.length), ...body])];
  return new Uint8Array([...header, 0x0a, ...leb128(code.length), ...code]);
}

/** A kernel module, compiled at most once, on first use. */
export interface SimdModule {
  /** The compiled module; null when this engine has no WebAssembly SIMD (callers fall back to JS). */
  module(): WebAssembly.Module | null;
  /** The module's exports, instantiated on `memory` as `env.memory`; null without WebAssembly SIMD. */
  instantiate(memory: WebAssembly.Memory): WebAssembly.Exports | null;
}

/** Wraps the module that `moduleBytes` assembles; nothing is assembled or compiled until first use. */
export function compileSimdModule(moduleBytes: () => Uint8Array<ArrayBuffer>): SimdModule {
  let compiled: WebAssembly.Module | null | undefined;
  const module = (): WebAssembly.Module | null => {
    if (compiled !== undefined) return compiled;
    try {
      const bytes = moduleBytes();
      compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      compiled = null;
    }
    return compiled;
  };
  return {
    module,
    instantiate(memory) {
      const compiledModule = module();
      if (compiledModule === null) return null;
      return new WebAssembly.Instance(compiledModule, { env: { memory } }).exports;
    },
  };
}
