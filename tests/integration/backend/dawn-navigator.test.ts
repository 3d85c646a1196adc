import { describe, it, expect } from 'vitest';
import { runBackendChild } from './run-backend-child.ts';

interface NavigatorResult {
  hasGpu: boolean;
  userAgent: string | undefined;
  webgpuRegistered: boolean;
}

// Node >= 21 defines a getter-only globalThis.navigator without `gpu`; Node 20 defines none.
describe('installDawnGpu under an existing navigator', () => {
  for (const mode of ['navigator', 'navigator-frozen']) {
    it(`adds gpu, keeps userAgent and lets tfjs-backend-webgpu register (${mode})`, async () => {
      const run = await runBackendChild(mode, { VK_ICD_FILENAMES: undefined });
      expect(run.code, run.stderr).toBe(0);
      expect(run.result as NavigatorResult).toEqual({ hasGpu: true, userAgent: 'Node.js/21', webgpuRegistered: true });
    });
  }
});
