/**
 * Before hours of training or evaluation: every feature file a dataset names exists. A missing
 * one would otherwise stop the run when its slide first comes up, perhaps epochs in.
 */
import { stat } from 'node:fs/promises';
import { IoError } from '../errors.js';
import { type DatasetOptions, featuresFolder } from './dataset.js';
import type { Sample } from './sample.js';

/** Files looked up at once (a network file system answers each slowly, many together quickly). */
const CONCURRENT_LOOKUPS = 64;
/** Missing files named in the error; `wsi-vqa data check` lists them all. */
const NAMED = 3;

/**
 * Throws an {@link IoError} naming the dataset `file`, how many of its feature files are not
 * regular files, the first few with their rows, and the folder relative paths were resolved in
 * (`featuresDir`, as the samples were read with, by default the dataset's folder).
 */
export async function requireFeatureFiles(samples: readonly Sample[], file: string, options: Pick<DatasetOptions, 'featuresDir'> = {}): Promise<void> {
  const firstRow = new Map<string, number>();
  for (const sample of samples) for (const { path } of sample.features) if (!firstRow.has(path)) firstRow.set(path, sample.origin.row);
  const paths = [...firstRow.keys()];
  const missing: string[] = [];
  for (let i = 0; i < paths.length; i += CONCURRENT_LOOKUPS) {
    const batch = paths.slice(i, i + CONCURRENT_LOOKUPS);
    const found = await Promise.all(batch.map((path) => stat(path).then((s) => s.isFile(), () => false)));
    missing.push(...batch.filter((_, j) => !found[j]));
  }
  if (missing.length === 0) return;
  const named = missing.slice(0, NAMED).map((path) => `row ${firstRow.get(path)}: ${path}`).join(', ');
  const more = missing.length > NAMED ? ', …' : '';
  const howMany = missing.length === paths.length ? `none of its ${paths.length} feature files exists` : `${missing.length} of its ${paths.length} feature files ${missing.length === 1 ? 'is' : 'are'} missing`;
  throw new IoError(`${file}: ${howMany} (${named}${more}); relative paths are resolved in ${featuresFolder(file, options)} (--features-dir), and wsi-vqa data check ${file} lists every problem`);
}
