import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The e2e suite (real Chromium tabs against a real coordinator): `npx vitest run --config tests/e2e/vitest.config.ts`.
 * Kept apart from the unit and integration projects until the lead adds an `e2e` project to vitest.config.ts.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  test: {
    name: 'e2e',
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
