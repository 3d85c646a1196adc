import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextBuildStaleReason } from '../../../scripts/ensure-next-build.ts';

describe('nextBuildStaleReason', () => {
  let dir: string;
  const old = new Date('2026-01-01T00:00:00Z');
  const built = new Date('2026-01-02T00:00:00Z');
  const later = new Date('2026-01-03T00:00:00Z');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crowdtrain-next-build-'));
    await mkdir(join(dir, 'app', '_components'), { recursive: true });
    await writeFile(join(dir, 'app', 'page.tsx'), 'export default function Page() { return null; }\n');
    await writeFile(join(dir, 'app', '_components', 'card.tsx'), 'export {};\n');
    await writeFile(join(dir, 'next.config.js'), 'export default {};\n');
    for (const path of ['app/_components/card.tsx', 'app/_components', 'app/page.tsx', 'app', 'next.config.js']) {
      await utimes(join(dir, path), old, old);
    }
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const writeBuildId = async (): Promise<void> => {
    await mkdir(join(dir, '.next'), { recursive: true });
    await writeFile(join(dir, '.next', 'BUILD_ID'), 'fixture');
    await utimes(join(dir, '.next', 'BUILD_ID'), built, built);
  };

  it('asks for a build when .next/BUILD_ID is missing', async () => {
    expect(await nextBuildStaleReason(dir)).toMatch(/BUILD_ID is missing/);
  });

  it('is up to date when every input is older than BUILD_ID (missing public/ and postcss config are fine)', async () => {
    await writeBuildId();
    expect(await nextBuildStaleReason(dir)).toBeNull();
  });

  it('names a nested app file edited after the build', async () => {
    await writeBuildId();
    await utimes(join(dir, 'app', '_components', 'card.tsx'), later, later);
    expect(await nextBuildStaleReason(dir)).toBe(`${join(dir, 'app', '_components', 'card.tsx')} is newer than ${join(dir, '.next', 'BUILD_ID')}`);
  });

  it('notices a changed config file and a file added under public/', async () => {
    await writeBuildId();
    await utimes(join(dir, 'next.config.js'), later, later);
    expect(await nextBuildStaleReason(dir)).toContain('next.config.js is newer');
    await utimes(join(dir, 'next.config.js'), old, old);
    await mkdir(join(dir, 'public'));
    await writeFile(join(dir, 'public', 'logo.svg'), '<svg/>');
    expect(await nextBuildStaleReason(dir)).toContain(join(dir, 'public'));
  });
});
