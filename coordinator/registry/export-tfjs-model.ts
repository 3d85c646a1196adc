import type { TfjsModelJson } from '../../core/api/registry.ts';
import type { RunConfig } from '../../core/config/run-config.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { readCheckpointFile } from '../run/checkpoint-file.ts';

/** What exporting one model version needs: its identity, its run's config and the checkpoint to load. */
export interface TfjsExportSource {
  modelName: string;
  version: number;
  sourceRunId: string;
  config: RunConfig;
  checkpoint: { path: string; sha256: string; step: number };
}

/** A model version in the tfjs layers format: model.json (its manifest names `weights.bin`) and the weights. */
export interface ExportedTfjsModel {
  modelJson: TfjsModelJson;
  weights: Buffer;
}

/** Most exported versions {@link TfjsExportCache} keeps (each is the model's float32 weights plus its topology). */
export const MAX_CACHED_EXPORTS = 8;

/**
 * Builds the tfjs layers model of the run config (standard layers, so any TensorFlow.js or the tfjs
 * converter can load it), loads the checkpoint's parameters (sha256-verified) into it and serialises
 * it, with the lineage in `userDefinedMetadata`. The model outputs logits.
 * @example const { modelJson, weights } = await exportTfjsModel({ modelName: 'mnist', version: 1, sourceRunId, config, checkpoint });
 */
export async function exportTfjsModel(src: TfjsExportSource): Promise<ExportedTfjsModel> {
  const { config, checkpoint } = src;
  // Loaded on first export only: the coordinator serves the API without tfjs in memory.
  const [{ loadDataset }, { GradientComputer }, tf] = await Promise.all([
    import('../../core/data/dataset-spec.ts'),
    import('../../core/models/gradient-computer.ts'),
    import('@tensorflow/tfjs-core'),
    import('@tensorflow/tfjs-backend-cpu'),
  ]);
  const { train } = await loadDataset(config.dataset);
  const content = await readCheckpointFile(checkpoint.path, checkpoint.sha256);
  const computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed, convImplementation: 'native' });
  try {
    computer.setParams(content.params);
    let saved: ExportedTfjsModel | null = null;
    await computer.model.save(
      tf.io.withSaveHandler((artifacts) => {
        const data = artifacts.weightData;
        const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
        saved = {
          weights: Buffer.concat(buffers.map((b) => Buffer.from(b))),
          modelJson: {
            format: 'layers-model',
            generatedBy: 'crowdtrain',
            convertedBy: null,
            modelTopology: artifacts.modelTopology,
            weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
            userDefinedMetadata: {
              model: src.modelName,
              version: src.version,
              sourceRunId: src.sourceRunId,
              sourceStep: checkpoint.step,
              checkpointSha256: checkpoint.sha256,
              dataset: config.dataset.name,
              inputShape: train.inputShape,
              numClasses: train.numClasses,
            },
          },
        };
        return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
      }),
    );
    if (!saved) throw new CrowdtrainError('INTERNAL', `tfjs did not hand over the model artifacts of ${src.modelName} v${src.version}`);
    return saved;
  } finally {
    computer.model.dispose();
  }
}

/** Remembers the exports of the last {@link MAX_CACHED_EXPORTS} versions; a failed export is forgotten, so the next request retries. */
export class TfjsExportCache {
  private readonly exports = new Map<string, Promise<ExportedTfjsModel>>();

  constructor(private readonly maxEntries = MAX_CACHED_EXPORTS) {}

  /** The export cached under `key` (a version id), else the one `make` starts, cached. */
  get(key: string, make: () => Promise<ExportedTfjsModel>): Promise<ExportedTfjsModel> {
    const cached = this.exports.get(key);
    if (cached) return cached;
    const made = make();
    this.exports.set(key, made);
    made.catch(() => {
      if (this.exports.get(key) === made) this.exports.delete(key);
    });
    while (this.exports.size > this.maxEntries) {
      const oldest = this.exports.keys().next().value;
      if (oldest === undefined) break;
      this.exports.delete(oldest);
    }
    return made;
  }
}
