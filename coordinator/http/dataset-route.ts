import type http from 'node:http';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import createDebug from 'debug';
import { encodeDataset } from '../../core/data/dataset.ts';
import { DatasetSpecSchema, loadDataset, type DatasetSpec } from '../../core/data/dataset-spec.ts';
import { describeZodError } from '../../core/protocol/messages.ts';

const debug = createDebug('crowdtrain:http:dataset');

/** Path prefix of the binary train split: `GET /api/v1/datasets/train?spec=<JSON dataset spec>`. */
export const DATASET_TRAIN_PATH = '/api/v1/datasets/train';
/** Path prefix under which the tfjs wasm backend's binaries are served to browser tabs. */
export const TFJS_WASM_PATH = '/api/v1/tfjs-wasm/';

/** The wasm binaries tabs may download (the three builds of tfjs-backend-wasm 4.22). */
const WASM_FILES = new Set(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']);

/** What the downloads handler needs to know about the coordinator: the dataset spec of the active run. */
export interface DatasetSource {
  activeDatasetSpec(): DatasetSpec | null;
}

interface EncodedDataset {
  bytes: Uint8Array;
  etag: string;
}

/** Canonical JSON of a spec (keys sorted), so equal specs share one cache key. */
export function canonicalSpecJson(spec: DatasetSpec): string {
  const sorted = Object.fromEntries(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify(sorted);
}

/**
 * The URL path (with query) of the binary train split of `spec`; tabs fetch it and cache it under this key.
 * @example fetch(datasetTrainUrl({ name: 'mnist', train_size: 2000 }))
 */
export function datasetTrainUrl(spec: DatasetSpec): string {
  return `${DATASET_TRAIN_PATH}?spec=${encodeURIComponent(canonicalSpecJson(spec))}`;
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: { code, message } }));
}

function etagMatches(req: http.IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);
}

function sendBinary(req: http.IncomingMessage, res: http.ServerResponse, body: EncodedDataset, contentType: string): void {
  const headers = {
    'content-type': contentType,
    // Content is a pure function of the URL (deterministic data sets, versioned wasm files).
    'cache-control': 'public, max-age=86400, immutable',
    etag: body.etag,
  };
  if (etagMatches(req, body.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(body.bytes.byteLength) });
  if (req.method === 'HEAD') res.end();
  else res.end(body.bytes);
}

function etagOf(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
}

/**
 * Serves what browser tabs download once and cache: the train split of a data set in the binary
 * format of core/data/dataset.ts (`GET /api/v1/datasets/train?spec=...`, only the active run's
 * data set or MNIST, so a stranger cannot make the coordinator generate arbitrary data) and the
 * tfjs wasm backend binaries (`GET /api/v1/tfjs-wasm/<file>.wasm`). Both carry an ETag and
 * long-lived caching headers. Returns true when it handled the request.
 */
export function createTabDownloadsHandler(source: DatasetSource): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const encoded = new Map<string, Promise<EncodedDataset>>();
  const wasm = new Map<string, Promise<EncodedDataset>>();
  const requireFromHere = createRequire(import.meta.url);

  const encodedTrainSplit = (spec: DatasetSpec): Promise<EncodedDataset> => {
    const key = canonicalSpecJson(spec);
    let p = encoded.get(key);
    if (!p) {
      p = loadDataset(spec).then(({ train }) => {
        const bytes = encodeDataset(train);
        debug('encoded %s: %d samples, %d bytes', key, train.size, bytes.byteLength);
        return { bytes, etag: etagOf(bytes) };
      });
      p.catch(() => encoded.delete(key));
      // Keep the two most recent data sets: a coordinator trains one run at a time.
      while (encoded.size >= 2) encoded.delete(encoded.keys().next().value!);
      encoded.set(key, p);
    }
    return p;
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname;
    if (p !== DATASET_TRAIN_PATH && !p.startsWith(TFJS_WASM_PATH)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendError(res, 405, 'INVALID_MESSAGE', `${req.method} is not allowed on ${p}`);
      return true;
    }
    if (p.startsWith(TFJS_WASM_PATH)) {
      const file = p.slice(TFJS_WASM_PATH.length);
      if (!WASM_FILES.has(file)) {
        sendError(res, 404, 'INVALID_MESSAGE', `no tfjs wasm file "${file}"; expected one of ${[...WASM_FILES].join(', ')}`);
        return true;
      }
      let body = wasm.get(file);
      if (!body) {
        const dist = path.dirname(requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
        body = readFile(path.join(dist, 'dist', file)).then((b) => ({ bytes: new Uint8Array(b), etag: etagOf(b) }));
        body.catch(() => wasm.delete(file));
        wasm.set(file, body);
      }
      sendBinary(req, res, await body, 'application/wasm');
      return true;
    }
    const rawSpec = url.searchParams.get('spec');
    if (rawSpec === null || rawSpec.length > 4096) {
      sendError(res, 400, 'INVALID_MESSAGE', `${DATASET_TRAIN_PATH} needs a ?spec= query with a JSON dataset spec (at most 4096 characters)`);
      return true;
    }
    let json: unknown;
    try {
      json = JSON.parse(rawSpec);
    } catch {
      sendError(res, 400, 'INVALID_MESSAGE', `spec ${JSON.stringify(rawSpec.slice(0, 80))} is not JSON`);
      return true;
    }
    const parsed = DatasetSpecSchema.safeParse(json);
    if (!parsed.success) {
      sendError(res, 400, 'INVALID_CONFIG', `invalid dataset spec: ${describeZodError(parsed.error)}`);
      return true;
    }
    const spec = parsed.data;
    const active = source.activeDatasetSpec();
    const allowed = spec.name === 'mnist' || (active !== null && canonicalSpecJson(active) === canonicalSpecJson(spec));
    if (!allowed) {
      sendError(res, 404, 'RUN_NOT_FOUND', `dataset ${canonicalSpecJson(spec)} is not the active run's data set (${active ? canonicalSpecJson(active) : 'no run is active'})`);
      return true;
    }
    sendBinary(req, res, await encodedTrainSplit(spec), 'application/octet-stream');
    return true;
  };
}
