/**
 * The wire shapes of the MLflow-compatible tracking API (`/api/2.0/mlflow/...`), after MLflow's
 * REST API reference: request bodies (validated with zod; unknown fields are ignored, as newer
 * clients send more than this subset reads), response bodies, and the error body
 * `{ error_code, message }` with its HTTP statuses. Timestamps are milliseconds since the epoch;
 * int64 fields are accepted as numbers or decimal strings (protobuf's JSON mapping allows both).
 */
import { z } from 'zod';

/** MLflow's error codes this API answers with, and the HTTP status of each (MLflow's mapping). */
export const MLFLOW_ERROR_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_STATE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
} as const;

/** One of the MLflow error codes of {@link MLFLOW_ERROR_STATUS}. */
export type MlflowErrorCode = keyof typeof MLFLOW_ERROR_STATUS;

/** Every error body: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`. */
export const MlflowErrorSchema = z.object({ error_code: z.enum(Object.keys(MLFLOW_ERROR_STATUS) as [MlflowErrorCode, ...MlflowErrorCode[]]), message: z.string() });
/** A parsed MLflow error body. */
export type MlflowErrorBody = z.infer<typeof MlflowErrorSchema>;

/** MLflow's run statuses. */
export const MlflowRunStatusSchema = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
/** One of MLflow's run statuses. */
export type MlflowRunStatus = z.infer<typeof MlflowRunStatusSchema>;

/** Longest run or experiment name. */
export const MAX_MLFLOW_NAME_LENGTH = 250;
/** Longest param key (MLflow's limit) and value (MLflow 2's limit). */
export const MAX_PARAM_KEY_LENGTH = 250;
export const MAX_PARAM_VALUE_LENGTH = 6000;

/** An int64 field: a safe integer as a JSON number or a decimal string. */
const int64 = (what: string) =>
  z.union([
    z.number({ message: `${what} must be an integer` }).int(`${what} must be an integer`),
    z
      .string()
      .regex(/^-?\d{1,16}$/, `${what} must be an integer`)
      .transform(Number),
  ]).refine((n) => Number.isSafeInteger(n), `${what} must be a safe integer`);

/** A double field: a JSON number, or the strings protobuf's JSON mapping uses for non-finite values. */
const double = z.union([z.number({ message: 'value must be a number' }), z.enum(['NaN', 'Infinity', '-Infinity']).transform(Number)]);

const id = (what: string) => z.string({ message: `${what} must be a string` }).min(1, `${what} must not be empty`).max(64, `${what} is longer than 64 characters`);

/** A tag as MLflow sends it (`RunTag`, `ExperimentTag`). */
export const MlflowTagSchema = z.object({ key: z.string({ message: 'tag key must be a string' }).min(1, 'tag key must not be empty'), value: z.string({ message: 'tag value must be a string' }) });
/** A param as MLflow sends it. */
export const MlflowParamSchema = z.object({
  key: z.string({ message: 'param key must be a string' }).min(1, 'param key must not be empty').max(MAX_PARAM_KEY_LENGTH, `param key is longer than ${MAX_PARAM_KEY_LENGTH} characters`),
  value: z.string({ message: 'param value must be a string' }).max(MAX_PARAM_VALUE_LENGTH, `param value is longer than ${MAX_PARAM_VALUE_LENGTH} characters`),
});
/** A metric point as MLflow sends it (step defaults to 0, as in MLflow). */
export const MlflowMetricSchema = z.object({
  key: z.string({ message: 'metric key must be a string' }).min(1, 'metric key must not be empty'),
  value: double,
  timestamp: int64('timestamp'),
  step: int64('step').default(0),
});

/** Body of `experiments/create`. */
export const CreateExperimentRequestSchema = z.object({
  name: z.string({ message: 'name is required' }).min(1, 'name must not be empty').max(MAX_MLFLOW_NAME_LENGTH),
  artifact_location: z.string().optional(),
  tags: z.array(MlflowTagSchema).default([]),
});

/** Body of `experiments/search` (POST) or its query (GET). */
export const SearchExperimentsRequestSchema = z.object({
  max_results: int64('max_results').pipe(z.number().min(1, 'max_results must be >= 1').max(50_000, 'max_results must be <= 50000')).default(1000),
  page_token: z.string().max(200).optional(),
  filter: z.string().max(4000).optional(),
  order_by: z.array(z.string().max(500)).max(10).default([]),
  view_type: z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']).default('ACTIVE_ONLY'),
});

/** Body of `experiments/set-experiment-tag`. */
export const SetExperimentTagRequestSchema = z.object({ experiment_id: id('experiment_id'), key: z.string().min(1, 'key must not be empty'), value: z.string({ message: 'value must be a string' }) });

/** Body of `runs/create`. */
export const CreateRunRequestSchema = z.object({
  experiment_id: id('experiment_id').optional(),
  user_id: z.string().max(256).optional(),
  run_name: z.string().max(MAX_MLFLOW_NAME_LENGTH).optional(),
  start_time: int64('start_time').optional(),
  tags: z.array(MlflowTagSchema).default([]),
});

/** The run id of a request: `run_id`, or the deprecated `run_uuid`. */
const runRef = {
  run_id: id('run_id').optional(),
  run_uuid: id('run_uuid').optional(),
};

/** Body of `runs/update`. */
export const UpdateRunRequestSchema = z.object({
  ...runRef,
  status: MlflowRunStatusSchema.optional(),
  end_time: int64('end_time').optional(),
  run_name: z.string().min(1, 'run_name must not be empty').max(MAX_MLFLOW_NAME_LENGTH).optional(),
});

/** Body of `runs/delete` and `runs/restore`. */
export const RunIdRequestSchema = z.object({ ...runRef });

/** Body of `runs/log-metric`. */
export const LogMetricRequestSchema = z.object({ ...runRef, key: MlflowMetricSchema.shape.key, value: double, timestamp: int64('timestamp'), step: int64('step').default(0) });

/** Body of `runs/log-parameter`. */
export const LogParamRequestSchema = z.object({ ...runRef, key: MlflowParamSchema.shape.key, value: MlflowParamSchema.shape.value });

/** Body of `runs/set-tag`. */
export const SetTagRequestSchema = z.object({ ...runRef, key: MlflowTagSchema.shape.key, value: MlflowTagSchema.shape.value });

/** Body of `runs/delete-tag`. */
export const DeleteTagRequestSchema = z.object({ run_id: id('run_id'), key: z.string().min(1, 'key must not be empty') });

/** Body of `runs/log-batch` (the item counts are checked by the route against the API's bounds). */
export const LogBatchRequestSchema = z.object({
  run_id: id('run_id'),
  metrics: z.array(MlflowMetricSchema).default([]),
  params: z.array(MlflowParamSchema).default([]),
  tags: z.array(MlflowTagSchema).default([]),
});

/** Body of `runs/search`. */
export const SearchRunsRequestSchema = z.object({
  experiment_ids: z.array(id('experiment id')).min(1, 'experiment_ids must name at least one experiment').max(100),
  filter: z.string().max(4000).optional(),
  run_view_type: z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']).default('ACTIVE_ONLY'),
  max_results: int64('max_results').pipe(z.number().min(1, 'max_results must be >= 1').max(50_000, 'max_results must be <= 50000')).default(1000),
  order_by: z.array(z.string().max(500)).max(10).default([]),
  page_token: z.string().max(200).optional(),
});

/** Query of `metrics/get-history`. */
export const GetMetricHistoryRequestSchema = z.object({
  ...runRef,
  metric_key: z.string({ message: 'metric_key is required' }).min(1, 'metric_key must not be empty'),
  max_results: int64('max_results').pipe(z.number().min(1, 'max_results must be >= 1').max(25_000, 'max_results must be <= 25000')).default(25_000),
  page_token: z.string().max(200).optional(),
});

// ---- responses ----

/** A tag or param in a response. */
export const MlflowKeyValueSchema = z.object({ key: z.string(), value: z.string() });

/** A metric point in a response. */
export const MlflowMetricViewSchema = z.object({ key: z.string(), value: z.number(), timestamp: z.number().int(), step: z.number().int() });

/** `RunInfo`: end_time is absent until the run ends (protobuf leaves unset fields out). */
export const MlflowRunInfoSchema = z.object({
  run_id: z.string(),
  run_uuid: z.string(),
  run_name: z.string(),
  experiment_id: z.string(),
  user_id: z.string(),
  status: MlflowRunStatusSchema,
  start_time: z.number().int(),
  end_time: z.number().int().optional(),
  artifact_uri: z.string(),
  lifecycle_stage: z.enum(['active', 'deleted']),
});

/** MLflow's `Dataset`: name and digest identify a version; source, schema and profile are free text (JSON by convention). */
export const MlflowDatasetSchema = z.object({
  name: z.string({ message: 'dataset name must be a string' }).min(1, 'dataset name must not be empty'),
  digest: z.string({ message: 'dataset digest must be a string' }).min(1, 'dataset digest must not be empty'),
  source_type: z.string({ message: 'dataset source_type must be a string' }).min(1, 'dataset source_type must not be empty'),
  source: z.string({ message: 'dataset source must be a string' }),
  schema: z.string({ message: 'dataset schema must be a string' }).optional(),
  profile: z.string({ message: 'dataset profile must be a string' }).optional(),
});
/** MLflow's `DatasetInput`: a dataset with input tags (`mlflow.data.context`: `training`, `evaluation`, ...). */
export const MlflowDatasetInputSchema = z.object({ tags: z.array(MlflowTagSchema).default([]), dataset: MlflowDatasetSchema });
/** The input tag that says what a run used a dataset for. */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

/** Body of `runs/log-inputs`. */
export const LogInputsRequestSchema = z.object({ ...runRef, datasets: z.array(MlflowDatasetInputSchema).default([]) });

/** `Run`: info, data (latest metrics, params, tags) and inputs (the datasets it used; absent when none). */
export const MlflowRunSchema = z.object({
  info: MlflowRunInfoSchema,
  data: z.object({ metrics: z.array(MlflowMetricViewSchema), params: z.array(MlflowKeyValueSchema), tags: z.array(MlflowKeyValueSchema) }),
  inputs: z.object({
    dataset_inputs: z
      .array(z.object({ tags: z.array(MlflowKeyValueSchema), dataset: MlflowDatasetSchema.extend({ schema: z.string().optional(), profile: z.string().optional() }) }))
      .optional(),
  }),
});
/** A run in a response. */
export type MlflowRun = z.infer<typeof MlflowRunSchema>;

/** `Experiment`. */
export const MlflowExperimentSchema = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string(),
  lifecycle_stage: z.enum(['active', 'deleted']),
  creation_time: z.number().int(),
  last_update_time: z.number().int(),
  tags: z.array(MlflowKeyValueSchema),
});
/** An experiment in a response. */
export type MlflowExperiment = z.infer<typeof MlflowExperimentSchema>;

/** Response of `experiments/create`. */
export const CreateExperimentResponseSchema = z.object({ experiment_id: z.string() });
/** Response of `experiments/get` and `experiments/get-by-name`. */
export const GetExperimentResponseSchema = z.object({ experiment: MlflowExperimentSchema });
/** Response of `experiments/search`. */
export const SearchExperimentsResponseSchema = z.object({ experiments: z.array(MlflowExperimentSchema), next_page_token: z.string().optional() });
/** Response of `runs/create` and `runs/get`. */
export const RunResponseSchema = z.object({ run: MlflowRunSchema });
/** Response of `runs/update`. */
export const UpdateRunResponseSchema = z.object({ run_info: MlflowRunInfoSchema });
/** Response of `runs/search`. */
export const SearchRunsResponseSchema = z.object({ runs: z.array(MlflowRunSchema), next_page_token: z.string().optional() });
/** Response of `metrics/get-history`. */
export const MetricHistoryResponseSchema = z.object({ metrics: z.array(MlflowMetricViewSchema), next_page_token: z.string().optional() });
/** Response of the writes that answer nothing (`log-batch`, `set-tag`, `delete`, ...). */
export const EmptyResponseSchema = z.object({});

/**
 * A page token: the offset of the next page, base64url of `{"offset":N}` (opaque to clients, as in MLflow).
 * @example decodePageToken(encodePageToken(200)) // 200
 */
export function encodePageToken(offset: number): string {
  return btoa(JSON.stringify({ offset })).replace(/=+$/, '');
}

/** The offset a page token holds; null when the token is not one this API issued. */
export function decodePageToken(token: string): number | null {
  try {
    const parsed = JSON.parse(atob(token)) as { offset?: unknown };
    return typeof parsed.offset === 'number' && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0 ? parsed.offset : null;
  } catch {
    return null;
  }
}
