import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeDatasetFileSource } from '../../../../worker-node/node-dataset-files.ts';
import { tempTree, type TempTree } from './image-files.ts';

let trees: TempTree[] = [];
afterEach(() => {
  for (const t of trees) t.cleanup();
  trees = [];
});

function tree(files: Record<string, string>): TempTree {
  const t = tempTree('ct-tree-');
  t.write(files);
  trees.push(t);
  return t;
}

describe('nodeDatasetFileSource().listTree', () => {
  it('lists every entry under the root, relative, folders ending in "/", sorted by code unit; dot entries left out', async () => {
    const t = tree({ 'root/b/2.png': 'x', 'root/b/1.png': 'x', 'root/B/x.png': 'x', 'root/a/deep/er.png': 'x', 'root/a/empty/': '', 'root/.git/HEAD': 'x', 'root/a/.DS_Store': 'x', 'root/top.txt': 'x' });
    const files = nodeDatasetFileSource({ baseDir: t.dir });
    const want = ['B/', 'B/x.png', 'a/', 'a/deep/', 'a/deep/er.png', 'a/empty/', 'b/', 'b/1.png', 'b/2.png', 'top.txt'];
    expect(await files.listTree!('root')).toEqual(want);
    expect(await files.listTree!(path.join(t.dir, 'root'))).toEqual(want);
    await expect(files.listTree!('root', { maxEntries: 9 })).rejects.toThrow(/^dataset folder "root": holds more than 9 entries \(files and folders\)/);
    expect(await files.listTree!('root', { maxEntries: 10 })).toHaveLength(10);
  });

  it('follows symlinks that stay inside the root; refuses ones that leave it, dangle or make a cycle', async () => {
    const t = tree({ 'root/a/1.png': 'x', 'outside/secret.png': 'x' });
    const root = path.join(t.dir, 'root');
    symlinkSync(path.join(root, 'a', '1.png'), path.join(root, 'a', 'link.png'));
    mkdirSync(path.join(root, 'b'));
    symlinkSync(path.join(root, 'a'), path.join(root, 'b', 'also-a'));
    const files = nodeDatasetFileSource({ baseDir: t.dir });
    expect(await files.listTree!('root')).toEqual(['a/', 'a/1.png', 'a/link.png', 'b/', 'b/also-a/', 'b/also-a/1.png', 'b/also-a/link.png']);

    symlinkSync(path.join(t.dir, 'outside', 'secret.png'), path.join(root, 'a', 'escape.png'));
    await expect(files.listTree!('root')).rejects.toThrow(/^dataset folder "root": "a\/escape\.png" is a symlink to .*outside[\\/]secret\.png, outside the folder: refused/);
  });

  it('refuses a symlinked folder that leaves the root, a cycle and a dangling link', async () => {
    const t = tree({ 'root/a/1.png': 'x', 'outside/secret.png': 'x' });
    const root = path.join(t.dir, 'root');
    const files = nodeDatasetFileSource({ baseDir: t.dir });
    symlinkSync(path.join(t.dir, 'outside'), path.join(root, 'out'));
    await expect(files.listTree!('root')).rejects.toThrow(/"out" is a symlink to .*outside, outside the folder: refused/);

    const t2 = tree({ 'root/a/1.png': 'x' });
    symlinkSync(path.join(t2.dir, 'root'), path.join(t2.dir, 'root', 'a', 'loop'));
    await expect(nodeDatasetFileSource({ baseDir: t2.dir }).listTree!('root')).rejects.toThrow(/"a\/loop" is a symlink to a folder that holds it: a cycle/);

    const t3 = tree({ 'root/a/1.png': 'x' });
    symlinkSync(path.join(t3.dir, 'nothing-here'), path.join(t3.dir, 'root', 'a', 'dangling.png'));
    await expect(nodeDatasetFileSource({ baseDir: t3.dir }).listTree!('root')).rejects.toThrow(/"a\/dangling\.png" is a symlink that leads nowhere/);
  });

  it('refuses a missing root and a file as the root', async () => {
    const t = tree({ 'f.png': 'x' });
    const files = nodeDatasetFileSource({ baseDir: t.dir });
    await expect(files.listTree!('missing')).rejects.toThrow(/^dataset folder "missing": cannot list it \(ENOENT.*relative paths start at/);
    await expect(files.listTree!('f.png')).rejects.toThrow(/^dataset folder "f\.png": is not a folder/);
  });
});
