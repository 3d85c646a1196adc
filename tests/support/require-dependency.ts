/**
 * One rule for tests that need something outside npm (Chromium, PostgreSQL, the SwiftShader
 * Vulkan ICD): on a developer machine without it they are skipped, and the skipped test's title
 * says what is missing and how to get it; under `CI=true` a missing dependency is an error that
 * fails the test file, so CI can never go green by skipping.
 */

/** How to get Chromium (also what the SwiftShader Vulkan ICD comes with). */
export const HOW_TO_GET_CHROMIUM = 'apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium binary';

/** How to get a PostgreSQL server for the tests. */
export const HOW_TO_GET_POSTGRES = 'set TEST_POSTGRES_URL, e.g. as root: eval "$(bash scripts/ci-postgres.sh)"';

/** How to get the SwiftShader Vulkan ICD and the Vulkan loader that Dawn needs. */
export const HOW_TO_GET_SWIFTSHADER = 'apt-get install -y chromium libvulkan1';

/** The outcome of {@link requireOrSkip}: whether to skip, and the title to give what is skipped. */
export interface DependencyGate {
  /** True when the dependency is missing (never true under CI=true: that throws instead). */
  readonly skip: boolean;
  /** `title` unchanged when the dependency is there; else `title` plus why it is skipped and how to get what it needs. */
  title(title: string): string;
}

/**
 * Decides a dependency's skip: `missingReason` undefined means it is there. Missing under
 * `process.env.CI === 'true'`, it throws (call it at the top level of a test file: the file fails
 * to collect, with this message); missing elsewhere, it returns `skip: true`.
 * @example const pg = requireOrSkip('PostgreSQL', url ? undefined : 'TEST_POSTGRES_URL is not set', HOW_TO_GET_POSTGRES); it.skipIf(pg.skip)(pg.title('...'), ...)
 */
export function requireOrSkip(name: string, missingReason: string | undefined, howToGet: string): DependencyGate {
  if (missingReason === undefined) return { skip: false, title: (title) => title };
  if (process.env.CI === 'true') {
    throw new Error(`${name} is required when CI=true, but ${missingReason}. To get it: ${howToGet}`);
  }
  return { skip: true, title: (title) => `${title} [skipped: ${name} missing (${missingReason}); to run it: ${howToGet}]` };
}

/**
 * {@link requireOrSkip} for Chromium, from whether the binary exists (`chromiumAvailable()`).
 * @example const chromium = requireChromium(await chromiumAvailable()); describe.skipIf(chromium.skip)(chromium.title('...'), ...)
 */
export function requireChromium(available: boolean): DependencyGate {
  return requireOrSkip('Chromium', available ? undefined : 'no Chromium binary at CHROMIUM_PATH or /usr/bin/chromium', HOW_TO_GET_CHROMIUM);
}
