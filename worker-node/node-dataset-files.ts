import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { installDatasetFileSource, type DatasetFileSource, type ListTreeOptions } from '../core/data/csv/dataset-file-source.ts';
import { installImageDecoder } from '../core/data/images/image-decoder.ts';
import { nodeImageDecoder } from './node-image-decoder.ts';

/** Bytes per piece a file is read in. */
const READ_CHUNK_BYTES = 64 * 1024;

/** Entries listTree lists at most unless told otherwise. */
export const DEFAULT_MAX_TREE_ENTRIES = 1_000_000;

/** Where relative dataset paths are resolved. */
export interface NodeDatasetFilesOptions {
  /** Directory relative paths are resolved against (default: the process's working directory). */
  baseDir?: string;
}

const GLOB_CHARS = /[*?]/;

function globRegex(namePattern: string): RegExp {
  const body = namePattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

function fileError(pattern: string, problem: string, cause?: unknown): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', `csv dataset: path ${JSON.stringify(pattern)}: ${problem}`, cause === undefined ? undefined : { cause });
}

function treeError(root: string, problem: string, cause?: unknown): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', `dataset folder ${JSON.stringify(root)}: ${problem}`, cause === undefined ? undefined : { cause });
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether the real path `p` is `root` or lies under it. */
function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The entries under a folder (see DatasetFileSource.listTree): walked through real paths, symlinks
 * followed when they stay inside the root's real path and refused when they leave it or lead to a
 * folder that holds them.
 */
async function listTree(root: string, absRoot: string, baseDir: string, maxEntries: number): Promise<string[]> {
  const realRoot = await realpath(absRoot).catch((cause: unknown) => {
    throw treeError(root, `cannot list it (${(cause as Error).message}; relative paths start at ${baseDir})`, cause);
  });
  if (!(await stat(realRoot)).isDirectory()) throw treeError(root, 'is not a folder');
  const out: string[] = [];
  const walk = async (dir: string, rel: string, ancestors: readonly string[]): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((cause: unknown) => {
      throw treeError(root, `cannot list ${JSON.stringify(rel || '.')} (${(cause as Error).message})`, cause);
    });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const childRel = `${rel}${e.name}`;
      let real = path.join(dir, e.name);
      let isFile = e.isFile();
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        real = await realpath(real).catch((cause: unknown) => {
          throw treeError(root, `${JSON.stringify(childRel)} is a symlink that leads nowhere (${(cause as Error).message})`, cause);
        });
        if (!isInside(realRoot, real)) throw treeError(root, `${JSON.stringify(childRel)} is a symlink to ${real}, outside the folder: refused`);
        const st = await stat(real);
        isFile = st.isFile();
        isDir = st.isDirectory();
        if (isDir && ancestors.includes(real)) throw treeError(root, `${JSON.stringify(childRel)} is a symlink to a folder that holds it: a cycle`);
      }
      if (!isFile && !isDir) throw treeError(root, `${JSON.stringify(childRel)} is neither a file nor a folder`);
      if (out.length >= maxEntries) throw treeError(root, `holds more than ${maxEntries} entries (files and folders)`);
      if (isFile) {
        out.push(childRel);
      } else {
        out.push(`${childRel}/`);
        await walk(real, `${childRel}/`, [...ancestors, real]);
      }
    }
  };
  await walk(realRoot, '', [realRoot]);
  return out.sort(byCodeUnit);
}

/**
 * The Node file source of csv and images data sets: a path or a glob whose file name part may hold
 * `*` and `?` (`data/train_data_*.csv`; the directory part is literal), folder trees (listTree:
 * at most DEFAULT_MAX_TREE_ENTRIES entries unless told, symlinks leaving the folder refused),
 * files read in 64 KiB pieces through a read stream (closed when the reader stops early), SHA-256
 * from node:crypto.
 * @example const source = nodeDatasetFileSource({ baseDir: process.cwd() });
 */
export function nodeDatasetFileSource(opts: NodeDatasetFilesOptions = {}): DatasetFileSource {
  const baseDir = opts.baseDir ?? process.cwd();
  const resolve = (p: string) => path.resolve(baseDir, p);
  return {
    async list(pattern: string): Promise<string[]> {
      const dir = path.dirname(pattern);
      const name = path.basename(pattern);
      if (GLOB_CHARS.test(dir)) throw fileError(pattern, 'only the file name part may contain * or ? (the directories are literal)');
      if (!GLOB_CHARS.test(name)) {
        const st = await stat(resolve(pattern)).catch((cause: unknown) => {
          throw fileError(pattern, `cannot read it (${(cause as Error).message}; relative paths start at ${baseDir})`, cause);
        });
        if (!st.isFile()) throw fileError(pattern, 'is not a file');
        return [pattern];
      }
      const entries = await readdir(resolve(dir), { withFileTypes: true }).catch((cause: unknown) => {
        throw fileError(pattern, `cannot list its directory (${(cause as Error).message}; relative paths start at ${baseDir})`, cause);
      });
      const re = globRegex(name);
      const matches = entries.filter((e) => e.isFile() && re.test(e.name)).map((e) => e.name);
      matches.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (matches.length === 0) throw fileError(pattern, `no file in ${resolve(dir)} matches ${JSON.stringify(name)}`);
      return matches.map((m) => path.join(dir, m));
    },
    async *read(file: string): AsyncGenerator<Uint8Array> {
      const stream = createReadStream(resolve(file), { highWaterMark: READ_CHUNK_BYTES });
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (cause) {
        throw new CrowdtrainError('INVALID_CONFIG', `dataset file ${JSON.stringify(file)}: cannot read it (${(cause as Error).message}; relative paths start at ${baseDir})`, { cause });
      } finally {
        stream.destroy();
      }
    },
    listTree(root: string, treeOpts: ListTreeOptions = {}): Promise<string[]> {
      return listTree(root, resolve(root), baseDir, treeOpts.maxEntries ?? DEFAULT_MAX_TREE_ENTRIES);
    },
    sha256() {
      const h = createHash('sha256');
      return {
        update: (bytes: Uint8Array) => void h.update(bytes),
        digestHex: () => h.digest('hex'),
      };
    },
  };
}

/**
 * Installs the Node file source and image decoder (worker-node/node-image-decoder.ts) for this
 * process, so that loadDataset reads csv and images data sets without being handed them
 * (coordinator and node worker start-up call it once).
 * @example installNodeDatasetFiles();
 */
export function installNodeDatasetFiles(opts: NodeDatasetFilesOptions = {}): void {
  installDatasetFileSource(nodeDatasetFileSource(opts));
  installImageDecoder(nodeImageDecoder());
}
