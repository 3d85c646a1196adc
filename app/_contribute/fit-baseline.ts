import * as tf from '@tensorflow/tfjs-core';
import { buildModel, parseModelSpec, softmaxCrossEntropyLoss } from '../../core/models/model-spec.ts';
import { parseDatasetSpec } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { BrowserDatasetLoader } from './browser-dataset.ts';

/** What `bench/tab-overhead.ts` asks a tab to time with plain `model.fit`. */
export interface PlainFitRequest {
  model: unknown;
  dataset: unknown;
  batchSize: number;
  /** Timed steps (after `warmupSteps` untimed ones). */
  steps: number;
  warmupSteps: number;
  lr: number;
  seed: number;
}

/** Samples/s of plain `model.fit` on this tab's current backend, the baseline of the tab-overhead bench. */
export interface PlainFitResult {
  backend: string;
  samplesPerSec: number;
  seconds: number;
  samples: number;
}

/**
 * Trains the same model as a run would (built by core/models from the same spec, Adam, the same
 * loss) with plain `model.fit` on the tab's current backend and times it: the ceiling that a tab
 * training through crowdtrain is compared with. Disposes everything it creates.
 */
export async function timePlainFit(baseUrl: string, req: PlainFitRequest): Promise<PlainFitResult> {
  const spec = parseModelSpec(req.model);
  const { dataset: train } = await new BrowserDatasetLoader(baseUrl).load(parseDatasetSpec(req.dataset));
  const model = buildModel(spec, { inputShape: train.inputShape, numClasses: train.numClasses, seed: req.seed });
  model.compile({ optimizer: tf.train.adam(req.lr), loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => softmaxCrossEntropyLoss(yTrue, yPred) });
  const fitSamples = async (steps: number): Promise<number> => {
    const n = steps * req.batchSize;
    const indices = Array.from({ length: n }, (_, i) => i % train.size);
    const { xs, ys } = datasetBatch(train, indices);
    try {
      const started = performance.now();
      await model.fit(xs, ys, { batchSize: req.batchSize, epochs: 1, shuffle: false, verbose: 0 });
      // fit resolves after its last read-back, so the time includes the device work.
      return (performance.now() - started) / 1000;
    } finally {
      tf.dispose([xs, ys]);
    }
  };
  try {
    await fitSamples(req.warmupSteps);
    const seconds = await fitSamples(req.steps);
    const samples = req.steps * req.batchSize;
    return { backend: tf.getBackend(), samplesPerSec: samples / seconds, seconds, samples };
  } finally {
    model.optimizer?.dispose();
    model.dispose();
  }
}

/** What `bench/tab-overhead.ts` asks a tab to time on a plain WebSocket: the wire floor of a step. */
export interface WireTimingRequest {
  /** ws:// URL of an echo server that answers a binary message with its length, and a text message `give N` with N bytes. */
  url: string;
  /** Bytes moved up (one step's gradient, as encoded on the wire). */
  uploadBytes: number;
  /** Bytes moved down (one step's parameters). */
  downloadBytes: number;
  /** Timed round trips per direction (after 3 untimed ones). */
  reps: number;
}

/** Medians (ms) of moving the bytes up (tab -> server) and down (server -> tab) on a bare WebSocket. */
export interface WireTimingResult {
  uploadMs: number;
  downloadMs: number;
}

/**
 * Times how long this browser takes to move one step's bytes each way over a bare WebSocket (no
 * socket.io, no crowdtrain): the floor that any per-step exchange of parameters and gradients
 * pays in this browser on this machine.
 */
export async function timeWebSocketTransfer(req: WireTimingRequest): Promise<WireTimingResult> {
  const ws = new WebSocket(req.url);
  ws.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot open ${req.url}`));
  });
  const roundTrip = (payload: Uint8Array | string): Promise<number> =>
    new Promise((resolve) => {
      const started = performance.now();
      ws.onmessage = () => resolve(performance.now() - started);
      ws.send(payload);
    });
  const medianOf = async (payload: Uint8Array | string): Promise<number> => {
    for (let i = 0; i < 3; i++) await roundTrip(payload);
    const times: number[] = [];
    for (let i = 0; i < req.reps; i++) times.push(await roundTrip(payload));
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? Number.NaN;
  };
  try {
    const uploadMs = await medianOf(new Uint8Array(req.uploadBytes).fill(1));
    const downloadMs = await medianOf(`give ${req.downloadBytes}`);
    return { uploadMs, downloadMs };
  } finally {
    ws.close();
  }
}
