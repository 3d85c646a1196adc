import { describe, it, expect } from 'vitest';
import { SWIFTSHADER_ICD } from '../../../worker-node/backend/webgpu-adapter.ts';
import { runBackendChild } from './run-backend-child.ts';
import { swiftShaderMissing } from './vulkan-swiftshader.ts';
import { HOW_TO_GET_SWIFTSHADER, requireOrSkip } from '../../support/require-dependency.ts';

const swiftShader = requireOrSkip('the SwiftShader Vulkan ICD', swiftShaderMissing(), HOW_TO_GET_SWIFTSHADER);

/** |webgpu - cpu| <= REL_TOL * (1 + |cpu|) elementwise: fp32 on both, different summation orders. */
const REL_TOL = 1e-4;

interface CompareResult {
  choice: { backend: string; device: { architecture?: string }; fallbacks: unknown[] };
  webgpu: Record<string, number[]>;
  cpu: Record<string, number[]>;
  leaked: number;
}

interface AutoResult {
  choice: { backend: string; fallbacks: { backend: string; reason: string }[] };
}

describe.skipIf(swiftShader.skip)(swiftShader.title('webgpu on Dawn + SwiftShader'), () => {
  it('computes matMul and conv2d forward and gradients that agree with cpu', async () => {
    const run = await runBackendChild('compare', { VK_ICD_FILENAMES: SWIFTSHADER_ICD });
    expect(run.code, run.stderr).toBe(0);
    const r = run.result as CompareResult;
    expect(r.choice.backend).toBe('webgpu');
    expect(r.choice.device.architecture).toBe('swiftshader');
    expect(r.leaked).toBe(0);
    const names = ['matMul', 'matMulGradA', 'matMulGradB', 'conv2d', 'conv2dStride2', 'conv2dGradX', 'conv2dGradFilter'];
    expect(Object.keys(r.webgpu).sort()).toEqual([...names].sort());
    for (const name of names) {
      const gpu = r.webgpu[name]!;
      const cpu = r.cpu[name]!;
      expect(gpu.length, name).toBe(cpu.length);
      expect(cpu.some((v) => v !== 0), `${name} is not all zeros`).toBe(true);
      const worst = Math.max(...gpu.map((v, i) => Math.abs(v - cpu[i]!) / (1 + Math.abs(cpu[i]!))));
      expect(worst, `${name}: worst relative difference`).toBeLessThanOrEqual(REL_TOL);
    }
  });

  it('auto skips the SwiftShader adapter and says why', async () => {
    const run = await runBackendChild('auto', { VK_ICD_FILENAMES: SWIFTSHADER_ICD });
    expect(run.code, run.stderr).toBe(0);
    const { choice } = run.result as AutoResult;
    expect(choice.backend).toBe('wasm');
    const webgpu = choice.fallbacks.find((f) => f.backend === 'webgpu');
    expect(webgpu?.reason).toMatch(/google\/swiftshader .*(fallback|software)/);
  });
});
