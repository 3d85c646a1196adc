import { CrowdtrainError } from '../../protocol/errors.ts';

/** Where in the input a problem is: the file, the physical line a record starts on, the column. */
export interface CsvLocation {
  file: string;
  /** 1-based line of the file where the offending record starts. */
  line?: number;
  column?: string;
}

/** Longest excerpt of a cell value an error message quotes. */
const MAX_QUOTED_CHARS = 40;

/** A cell value for an error message: JSON-quoted, cut to 40 characters. */
export function quoteCell(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTED_CHARS ? `${value.slice(0, MAX_QUOTED_CHARS)}...` : value);
}

/** "data/a.csv line 7, column "bill"": the prefix of every located message. */
export function describeLocation(at: CsvLocation): string {
  let s = at.file;
  if (at.line !== undefined) s += ` line ${at.line}`;
  if (at.column !== undefined) s += `, column ${JSON.stringify(at.column)}`;
  return s;
}

/**
 * The error of bad CSV input: CrowdtrainError('INVALID_CONFIG') whose message starts with the file,
 * line and column it concerns.
 * @example throw csvInputError({ file: 'a.csv', line: 7, column: 'bill' }, 'is "abc", not a number');
 */
export function csvInputError(at: CsvLocation, problem: string, cause?: unknown): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', `csv dataset: ${describeLocation(at)}: ${problem}`, cause === undefined ? undefined : { cause });
}
