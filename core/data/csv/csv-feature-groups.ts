import { featureWidth, type CsvTransform } from './csv-transform.ts';

/** The model inputs one source column of a csv data set produced. */
export interface CsvFeatureGroup {
  /** The source column (`income`, `region`). */
  column: string;
  /** Indices into the input vector, in order: one for a numeric column (two with its `:missing` indicator), one per category (and the missing slot) for a categorical one. */
  inputs: number[];
}

/**
 * Which input indices each source column of a fitted csv transform produced, in the transform's
 * feature order (the order of its `outputs`): the unit that feature importance permutes, so a
 * categorical column's one-hot inputs move together.
 * @example
 * csvFeatureGroups(transform); // [{ column: 'age', inputs: [0] }, { column: 'region', inputs: [1, 2, 3] }, ...]
 */
export function csvFeatureGroups(transform: CsvTransform): CsvFeatureGroup[] {
  let at = 0;
  return transform.features.map((f) => {
    const width = featureWidth(f);
    const inputs = Array.from({ length: width }, (_, k) => at + k);
    at += width;
    return { column: f.column, inputs };
  });
}
