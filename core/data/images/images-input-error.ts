import { CrowdtrainError } from '../../protocol/errors.ts';

/**
 * The error of bad image-folder input: CrowdtrainError('INVALID_CONFIG') whose message starts
 * with the file, folder or zip entry it concerns.
 * @example throw imagesInputError('data/digits/3/7.png', 'is not a PNG or JPEG');
 */
export function imagesInputError(where: string, problem: string, cause?: unknown): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', `images dataset: ${where}: ${problem}`, cause === undefined ? undefined : { cause });
}

/** How an error message names an entry of a zip file: `data/digits.zip entry "3/7.png"`. */
export function zipEntryName(zipPath: string, entry: string): string {
  return `${zipPath} entry ${JSON.stringify(entry)}`;
}
