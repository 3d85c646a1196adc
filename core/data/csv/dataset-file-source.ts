import { CrowdtrainError } from '../../protocol/errors.ts';

/** An incremental SHA-256 (node:crypto's in Node processes). */
export interface Sha256Hasher {
  update(bytes: Uint8Array): void;
  /** The digest as 64 lowercase hex digits; call once, after the last update. */
  digestHex(): string;
}

/** What {@link DatasetFileSource.listTree} may be told. */
export interface ListTreeOptions {
  /** Most entries (files and folders) the tree may hold; more is refused. */
  maxEntries?: number;
}

/**
 * Where file-backed data sets (csv, images) read their files: core/ does no I/O of its own, so the
 * process supplies this (worker-node/node-dataset-files.ts in Node processes; a browser tab has
 * none and downloads the encoded train split from the coordinator instead).
 */
export interface DatasetFileSource {
  /**
   * The files a path or glob names (`*` and `?` in the file name part), sorted by name; throws
   * CrowdtrainError('INVALID_CONFIG') naming the pattern when nothing matches.
   */
  list(pattern: string): Promise<string[]>;
  /** The bytes of one file, in pieces, never all at once; stopping the iteration early closes the file. */
  read(path: string): AsyncIterable<Uint8Array>;
  /**
   * Every entry under the folder `root`, recursively: paths relative to it with `/` separators,
   * folders ending in `/` (`cat/`, `cat/1.png`), sorted by code unit. Entries whose name starts
   * with `.` are left out, with all they hold. Throws CrowdtrainError('INVALID_CONFIG') naming
   * the entry for more than `maxEntries` entries or a symlink that leads outside `root`. Image
   * folders need it; a source without it serves csv data sets only.
   */
  listTree?(root: string, opts?: ListTreeOptions): Promise<string[]>;
  /** A fresh SHA-256 hasher. */
  sha256(): Sha256Hasher;
}

let installed: DatasetFileSource | null = null;

/**
 * Sets the file source loadDataset uses when its caller passes none (the process's platform, like
 * tfjs's `setPlatform`); wiring files call it once at start. `null` removes it.
 * @example installDatasetFileSource(nodeDatasetFileSource());
 */
export function installDatasetFileSource(source: DatasetFileSource | null): void {
  installed = source;
}

/** The file source to use: the given one, else the installed one; throws naming what to do when there is none. */
export function resolveDatasetFileSource(given?: DatasetFileSource): DatasetFileSource {
  const source = given ?? installed;
  if (!source) {
    throw new CrowdtrainError(
      'INVALID_CONFIG',
      'file-backed datasets (csv, images) are read from files and this process has no file reader: a Node process installs one with installNodeDatasetFiles() (worker-node/node-dataset-files.ts); a browser tab downloads the encoded train split from the coordinator (GET /api/v1/datasets/train)',
    );
  }
  return source;
}
