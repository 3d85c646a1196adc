import type http from 'node:http';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import createDebug from 'debug';
import { encodeDataset } from '../../../core/data/dataset.ts';
import { DatasetSpecSchema, loadDataset, type DatasetSpec } from '../../../core/data/dataset-spec.ts';
import { describeZodError } from '../../../core/protocol/messages.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { DATASET_TRAIN_PATH, TFJS_WASM_PATH, canonicalSpecJson } from '../dataset-route.ts';
import { HttpError } from '../http-io.ts';
import { rawRoute, type Route } from '../route.ts';

const debug = createDebug('crowdtrain:http:dataset');

/** The wasm binaries tabs may download (the three builds of tfjs-backend-wasm 4.22). */
export const TFJS_WASM_FILES: ReadonlySet<string> = new Set(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']);
/** Longest `?spec=` the dataset route reads. */
export const MAX_SPEC_CHARS = 4096;

interface EncodedBody {
  bytes: Uint8Array;
  etag: string;
}

function etagOf(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
}

function etagMatches(req: http.IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);
}

/** Sends a body that is a pure function of its URL: ETag, a year-long `immutable` cache, 304 on a matching If-None-Match. */
function sendImmutable(req: http.IncomingMessage, res: http.ServerResponse, body: EncodedBody, contentType: string): void {
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

/** The data set `?spec=` names, if a tab may download it: MNIST or the active run's data set (so a stranger cannot make the coordinator generate arbitrary data). */
function allowedSpec(url: URL, active: DatasetSpec | null): DatasetSpec {
  const rawSpec = url.searchParams.get('spec');
  if (rawSpec === null || rawSpec.length > MAX_SPEC_CHARS) {
    throw new HttpError(400, 'INVALID_MESSAGE', `${DATASET_TRAIN_PATH} needs a ?spec= query with a JSON dataset spec (at most ${MAX_SPEC_CHARS} characters)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(rawSpec);
  } catch {
    throw new HttpError(400, 'INVALID_MESSAGE', `spec ${JSON.stringify(rawSpec.slice(0, 80))} is not JSON`);
  }
  const parsed = DatasetSpecSchema.safeParse(json);
  if (!parsed.success) throw new HttpError(400, 'INVALID_CONFIG', `invalid dataset spec: ${describeZodError(parsed.error)}`);
  const spec = parsed.data;
  if (spec.name === 'mnist' || (active !== null && canonicalSpecJson(active) === canonicalSpecJson(spec))) return spec;
  throw new HttpError(404, 'RUN_NOT_FOUND', `dataset ${canonicalSpecJson(spec)} is not the active run's data set (${active ? canonicalSpecJson(active) : 'no run is active'})`);
}

/**
 * What browser tabs download once and cache: the train split of a data set in the binary format of
 * core/data/dataset.ts (`GET /api/v1/datasets/train?spec=...`) and the tfjs wasm backend binaries
 * (`GET /api/v1/tfjs-wasm/<file>.wasm`). Both carry an ETag and long-lived caching headers.
 */
export function datasetRoutes(c: CoordinatorApi): Route[] {
  const encoded = new Map<string, Promise<EncodedBody>>();
  const wasm = new Map<string, Promise<EncodedBody>>();
  const requireFromHere = createRequire(import.meta.url);

  const encodedTrainSplit = (spec: DatasetSpec): Promise<EncodedBody> => {
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

  const wasmFile = (file: string): Promise<EncodedBody> => {
    let body = wasm.get(file);
    if (!body) {
      const dist = path.dirname(requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      body = readFile(path.join(dist, 'dist', file)).then((b) => ({ bytes: new Uint8Array(b), etag: etagOf(b) }));
      body.catch(() => wasm.delete(file));
      wasm.set(file, body);
    }
    return body;
  };

  return [
    rawRoute({
      method: 'GET',
      pattern: new RegExp(`^${DATASET_TRAIN_PATH}$`),
      async handle({ req, res, url }) {
        const spec = allowedSpec(url, c.activeRun?.config.dataset ?? null);
        sendImmutable(req, res, await encodedTrainSplit(spec), 'application/octet-stream');
      },
    }),
    rawRoute({
      method: 'GET',
      pattern: new RegExp(`^${TFJS_WASM_PATH}(.*)$`),
      async handle({ req, res, params }) {
        const file = params[0] ?? '';
        if (!TFJS_WASM_FILES.has(file)) throw new HttpError(404, 'INVALID_MESSAGE', `no tfjs wasm file "${file}"; expected one of ${[...TFJS_WASM_FILES].join(', ')}`);
        sendImmutable(req, res, await wasmFile(file), 'application/wasm');
      },
    }),
  ];
}
