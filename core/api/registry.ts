import { z } from 'zod';

/** One version of a registered model, with its lineage back to the run and checkpoint step. */
export const ModelVersionSchema = z.object({
  id: z.string(),
  modelName: z.string(),
  version: z.number().int(),
  aliases: z.array(z.string()),
  description: z.string().nullable(),
  createdAt: z.string(),
  sourceRunId: z.string().nullable(),
  sourceRunName: z.string().nullable(),
  sourceCheckpointId: z.string().nullable(),
  sourceStep: z.number().int().nullable(),
});
/** A model version. */
export type ModelVersion = z.infer<typeof ModelVersionSchema>;

/** A registered model with its versions, newest first. */
export const RegisteredModelSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  createdAt: z.string(),
  versions: z.array(ModelVersionSchema),
});
/** A registered model. */
export type RegisteredModel = z.infer<typeof RegisteredModelSchema>;

/** Body of `GET /api/v1/models`. */
export const ModelListSchema = z.object({ models: z.array(RegisteredModelSchema) });
/** The registry. */
export type ModelList = z.infer<typeof ModelListSchema>;

/** Body of `GET /api/v1/models/:name` and `POST /api/v1/models` (201). */
export const ModelBodySchema = z.object({ model: RegisteredModelSchema });

/** Body of `POST /api/v1/models/:name/versions` (201) and `PUT /api/v1/models/:name/aliases/:alias`. */
export const VersionBodySchema = z.object({ version: ModelVersionSchema });

/**
 * `GET /api/v1/models/:name/versions/:versionOrAlias/model.json`: a tfjs `layers-model` whose
 * manifest names `weights.bin` (relative), with the lineage in `userDefinedMetadata`.
 */
export const TfjsModelJsonSchema = z.object({
  format: z.literal('layers-model'),
  generatedBy: z.string(),
  convertedBy: z.null(),
  /** The tfjs layers topology (tf.io.ModelArtifacts.modelTopology). */
  modelTopology: z.unknown(),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(z.unknown()) })),
  userDefinedMetadata: z.object({
    model: z.string(),
    version: z.number().int(),
    sourceRunId: z.string(),
    sourceStep: z.number().int(),
    checkpointSha256: z.string(),
    dataset: z.string(),
    inputShape: z.array(z.number().int()),
    numClasses: z.number().int(),
  }),
});
/** An exported model.json. */
export type TfjsModelJson = z.infer<typeof TfjsModelJsonSchema>;
