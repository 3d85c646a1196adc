import type { DatasetDetail, DatasetSummaryView, DatasetVersionView, RunInputView } from '../../../core/api/datasets.ts';
import type { DatasetDetailRecord, DatasetSummaryRecord, DatasetVersionRecord, RunInputRecord } from '../../../prisma/queries/tracking-store.ts';

/** Stored text parsed as JSON when it is JSON (our own runs store JSON), else the text as is (an MLflow client's free-form source). */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A stored data set version as the API sends it. */
export function datasetVersionView(v: DatasetVersionRecord): DatasetVersionView {
  return {
    id: v.id,
    datasetId: v.datasetId,
    name: v.name,
    version: v.version,
    digest: v.digest,
    sourceType: v.sourceType,
    source: jsonOrText(v.source),
    schema: v.schema === null ? null : jsonOrText(v.schema),
    profile: v.profile === null ? null : jsonOrText(v.profile),
    createdAt: v.createdAt.toISOString(),
  };
}

/** A run input as the API sends it. */
export function runInputView(i: RunInputRecord): RunInputView {
  return { context: i.context, dataset: datasetVersionView(i.dataset) };
}

/** A data set summary as the API sends it. */
export function datasetSummaryView(d: DatasetSummaryRecord): DatasetSummaryView {
  return { id: d.id, name: d.name, createdAt: d.createdAt.toISOString(), versionCount: d.versionCount, runCount: d.runCount, latest: d.latest ? datasetVersionView(d.latest) : null };
}

/** A data set with its versions as the API sends it. */
export function datasetDetailView(d: DatasetDetailRecord): DatasetDetail {
  return {
    dataset: { id: d.id, name: d.name, createdAt: d.createdAt.toISOString() },
    versions: d.versions.map(({ runs, ...v }) => ({ ...datasetVersionView(v), runs })),
  };
}
