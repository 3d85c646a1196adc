import type http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import createDebug from 'debug';
import { encodeDataset } from '../../../core/data/dataset.ts';
import { encodedDatasetHead } from '../../../core/data/encoded-dataset-head.ts';
import { DatasetSpecSchema, loadDataset, type DatasetSpec } from '../../../core/data/dataset-spec.ts';
import { describeZodError } from '../../../core/protocol/messages.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { DATASET_TRAIN_PATH, TFJS_WASM_PATH, canonicalSpecJson } from '../../../core/data/dataset-route.ts';
import { HttpError } from '../http-io.ts';
import { jsonRoute, rawRoute, type Route } from '../route.ts';
import { etagOf, trainSplitCache } from '../train-split-cache.ts';
import { DatasetDetailSchema, DatasetListSchema, RunInputsSchema } from '../../../core/api/datasets.ts';
import { datasetDetailView, datasetSummaryView, runInputView } from './dataset-views.ts';
import { requireRun } from './run-lookup.ts';

const debug = createDebug('crowdtrain:http:dataset');

/** The wasm binaries tabs may download (the three builds of tfjs-backend-wasm 4.22). */
export const TFJS_WASM_FILES: ReadonlySet<string> = new Set(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']);
/** Longest `?spec=` the dataset route reads. */
export const MAX_SPEC_CHARS = 4096;

/** A data set id in a path: a cuid (never `train`, the train-split download). */
const DATASET_ID = /^[a-z0-9]{8,64}$/;

/** A response body, sent as its chunks in order (views into cached encodings, not copies). */
interface Body {
  chunks: Uint8Array[];
  etag: string;
}

/** Cache key of the one encoding every MNIST spec is cut from: the whole fixed train split (no train_size, and test_size does not change it). */
const MNIST_TRAIN_KEY = 'mnist-train';

function etagMatches(req: http.IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);
}

/** Sends a body that is a pure function of its URL: ETag, a year-long `immutable` cache, 304 on a matching If-None-Match. */
function sendImmutable(req: http.IncomingMessage, res: http.ServerResponse, body: Body, contentType: string): void {
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
  const length = body.chunks.reduce((n, c) => n + c.byteLength, 0);
  res.writeHead(200, { ...headers, 'content-length': String(length) });
  if (req.method !== 'HEAD') for (const chunk of body.chunks) res.write(chunk);
  res.end();
}

/** The data set `?spec=` names, if a tab may download it: MNIST or the active run's data set (so a stranger cannot make the coordinator generate arbitrary data). */
function allowedSpec(url: URL, active: readonly DatasetSpec[]): DatasetSpec {
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
  const wanted = canonicalSpecJson(spec);
  if (spec.name === 'mnist' || active.some((a) => canonicalSpecJson(a) === wanted)) return spec;
  throw new HttpError(404, 'RUN_NOT_FOUND', `dataset ${wanted} is not the data set of an active run (${active.length ? active.map(canonicalSpecJson).join(', ') : 'no run is active'})`);
}

/**
 * The train split of an allowed spec, encoded at most once per data set (core/data/dataset.ts
 * format). Every MNIST spec is cut from one cached encoding of the whole fixed train split
 * (encodedDatasetHead: a fresh header and views of the first train_size samples, byte for byte
 * what encoding that prefix gives, since MNIST is stored one byte per pixel); its ETag derives from
 * the whole split's and the size. Other specs are those of active runs, each encoded whole.
 */
async function trainSplitBody(spec: DatasetSpec): Promise<Body> {
  if (spec.name === 'mnist') {
    const whole = await trainSplitCache.get(MNIST_TRAIN_KEY, () => encodeTrainSplit(MNIST_TRAIN_KEY, { name: 'mnist' }));
    const chunks = spec.train_size === undefined ? [whole.bytes] : encodedDatasetHead(whole.bytes, spec.train_size);
    return { chunks, etag: chunks.length === 1 ? whole.etag : etagOf(`${whole.etag}:${spec.train_size}`) };
  }
  const key = canonicalSpecJson(spec);
  const split = await trainSplitCache.get(key, () => encodeTrainSplit(key, spec));
  return { chunks: [split.bytes], etag: split.etag };
}

async function encodeTrainSplit(key: string, spec: DatasetSpec): Promise<Uint8Array> {
  const { train } = await loadDataset(spec);
  const bytes = encodeDataset(train);
  debug('encoded %s: %d samples, %d bytes', key, train.size, bytes.byteLength);
  return bytes;
}

/**
 * What browser tabs download once and cache: the train split of a data set in the binary format of
 * core/data/dataset.ts (`GET /api/v1/datasets/train?spec=...`) and the tfjs wasm backend binaries
 * (`GET /api/v1/tfjs-wasm/<file>.wasm`). Both carry an ETag and long-lived caching headers. A train
 * split costs one encoding per data set while the process's bounded cache (train-split-cache.ts)
 * holds it, whatever train_size a request names; see trainSplitBody.
 */
export function datasetRoutes(c: CoordinatorApi): Route[] {
  const wasm = new Map<string, Promise<Body>>();
  const requireFromHere = createRequire(import.meta.url);

  const wasmFile = (file: string): Promise<Body> => {
    let body = wasm.get(file);
    if (!body) {
      const dist = path.dirname(requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      body = readFile(path.join(dist, 'dist', file)).then((b) => ({ chunks: [new Uint8Array(b)], etag: etagOf(b) }));
      body.catch(() => wasm.delete(file));
      wasm.set(file, body);
    }
    return body;
  };

  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/datasets$/,
      response: DatasetListSchema,
      async handle() {
        return { status: 200, body: { datasets: (await c.store.listDatasets()).map(datasetSummaryView) } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/datasets\/(?!train$)([^/]+)$/,
      response: DatasetDetailSchema,
      async handle({ params }) {
        const id = params[0] ?? '';
        if (!DATASET_ID.test(id)) throw new HttpError(400, 'INVALID_MESSAGE', `"${id.slice(0, 80)}" is not a dataset id (GET /api/v1/datasets lists them)`);
        const dataset = await c.store.getDataset(id);
        if (!dataset) throw new HttpError(404, 'RUN_NOT_FOUND', `no dataset with id ${id}`);
        return { status: 200, body: datasetDetailView(dataset) };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/inputs$/,
      response: RunInputsSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const inputs = (await c.store.runInputs([run.id])).get(run.id) ?? [];
        return { status: 200, body: { runId: run.id, inputs: inputs.map(runInputView) } };
      },
    }),
    rawRoute({
      method: 'GET',
      pattern: new RegExp(`^${DATASET_TRAIN_PATH}$`),
      async handle({ req, res, url }) {
        const spec = allowedSpec(url, c.activeRuns().map((r) => r.config.dataset));
        sendImmutable(req, res, await trainSplitBody(spec), 'application/octet-stream');
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
