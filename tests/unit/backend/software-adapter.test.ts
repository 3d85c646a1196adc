import { describe, it, expect } from 'vitest';
import { adapterLabel, softwareAdapterReason } from '../../../worker-node/backend/software-adapter.ts';

describe('softwareAdapterReason', () => {
  it('flags the SwiftShader adapter Dawn reports here (fallback flag set)', () => {
    const info = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true };
    expect(softwareAdapterReason(info)).toBe('adapter google/swiftshader is a fallback (software) adapter');
  });

  it('flags software adapters by name even without the fallback flag', () => {
    expect(softwareAdapterReason({ vendor: 'google', architecture: 'swiftshader' })).toMatch(/software/);
    expect(softwareAdapterReason({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toMatch(/mesa .*software/);
    expect(softwareAdapterReason({ vendor: 'mesa', description: 'Lavapipe' })).toMatch(/software/);
    expect(softwareAdapterReason({ description: 'Microsoft Basic Render Driver' })).toMatch(/Microsoft Basic Render Driver/);
  });

  it('accepts real GPUs', () => {
    expect(softwareAdapterReason({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA A100-SXM4-40GB', isFallbackAdapter: false })).toBeUndefined();
    expect(softwareAdapterReason({ vendor: 'amd', architecture: 'rdna-3', description: '' })).toBeUndefined();
    expect(softwareAdapterReason({ vendor: 'apple', architecture: 'metal-3' })).toBeUndefined();
  });
});

describe('adapterLabel', () => {
  it('prefers vendor/architecture, then description', () => {
    expect(adapterLabel({ vendor: 'nvidia', architecture: 'hopper' })).toBe('nvidia/hopper');
    expect(adapterLabel({ vendor: '', architecture: '', description: 'Some GPU' })).toBe('Some GPU');
    expect(adapterLabel({})).toBe('unknown');
  });
});
