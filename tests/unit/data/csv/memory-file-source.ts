/** A DatasetFileSource over in-memory files, for tests: files are served in small pieces so chunk boundaries fall everywhere. */
import { createHash } from 'node:crypto';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import type { DatasetFileSource } from '../../../../core/data/csv/dataset-file-source.ts';

/** A file's content: text (UTF-8 encoded), raw bytes, or a generator of pieces (for huge inputs). */
export type MemoryFile = string | Uint8Array | (() => Iterable<Uint8Array>);

/** An in-memory file source; `bytesServed` counts what readers pulled (to check a reader stops early). */
export interface MemoryFileSource extends DatasetFileSource {
  bytesServed: number;
}

/** Serves `files` by exact name, or by a `*` glob over the names; pieces of `chunkBytes`. */
export function memoryFileSource(files: Record<string, MemoryFile>, chunkBytes = 7): MemoryFileSource {
  const src: MemoryFileSource = {
    bytesServed: 0,
    list(pattern) {
      const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
      const names = Object.keys(files).filter((n) => re.test(n)).sort();
      if (names.length === 0) return Promise.reject(new CrowdtrainError('INVALID_CONFIG', `no file matches ${pattern}`));
      return Promise.resolve(names);
    },
    async *read(path) {
      const f = files[path];
      if (f === undefined) throw new CrowdtrainError('INVALID_CONFIG', `no file ${path}`);
      if (typeof f === 'function') {
        for (const piece of f()) {
          src.bytesServed += piece.byteLength;
          yield piece;
        }
        return;
      }
      const bytes = typeof f === 'string' ? new TextEncoder().encode(f) : f;
      for (let i = 0; i < bytes.length; i += chunkBytes) {
        const piece = bytes.subarray(i, i + chunkBytes);
        src.bytesServed += piece.byteLength;
        await Promise.resolve();
        yield piece;
      }
    },
    sha256() {
      const h = createHash('sha256');
      return { update: (b) => void h.update(b), digestHex: () => h.digest('hex') };
    },
  };
  return src;
}
