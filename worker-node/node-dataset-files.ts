import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { installDatasetFileSource, type DatasetFileSource } from '../core/data/csv/dataset-file-source.ts';

/** Bytes per piece a file is read in. */
const READ_CHUNK_BYTES = 64 * 1024;

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

/**
 * The Node file source of csv data sets: a path or a glob whose file name part may hold `*` and
 * `?` (`data/train_data_*.csv`; the directory part is literal), files read in 64 KiB pieces
 * through a read stream (closed when the reader stops early), SHA-256 from node:crypto.
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
        throw fileError(file, `cannot read it (${(cause as Error).message})`, cause);
      } finally {
        stream.destroy();
      }
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
 * Installs the Node file source for this process, so that loadDataset reads csv data sets without
 * being handed a source (coordinator and node worker start-up call it once).
 * @example installNodeDatasetFiles();
 */
export function installNodeDatasetFiles(opts: NodeDatasetFilesOptions = {}): void {
  installDatasetFileSource(nodeDatasetFileSource(opts));
}
