/** Where a dataset's feature references point on disk. */
import { readdir } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative } from 'node:path';
import { FEATURE_FILE_EXTENSIONS } from '../io/features.js';

/** Folder levels searched below the features directory for case feature files (`<dir>/<tumor>/<tumor>/<file>`). */
const MAX_SEARCH_DEPTH = 3;

/** A dataset's feature reference (`./BRCA/TCGA-….csv`, `TCGA-BRCA/….pt`, or an absolute path) as a path: relative ones are inside `featuresDir`. */
export function resolveFeaturePath(reference: string, featuresDir: string): string {
  return isAbsolute(reference) ? reference : join(featuresDir, reference);
}

/** The slide id a feature file stands for: its name without folder and extension. */
export function slideIdOf(reference: string): string {
  return basename(reference, extname(reference));
}

/** Every feature file (by extension) under `dir`, up to three folder levels deep, sorted; empty when `dir` cannot be read. */
export async function listFeatureFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory() && depth < MAX_SEARCH_DEPTH) await walk(path, depth + 1);
      else if ((FEATURE_FILE_EXTENSIONS as readonly string[]).includes(extname(entry.name).toLowerCase())) found.push(path);
    }
  };
  await walk(dir, 0);
  return found.sort((a, b) => relative(dir, a).localeCompare(relative(dir, b)));
}

/**
 * The feature file of a case (WSI-VQA names cases, `TCGA-LD-A74U`, not slides): the first file
 * whose name is `<case>.<ext>` or starts with `<case>-` (`TCGA-LD-A74U-01Z-00-DX1….pt`); undefined when none.
 */
export function findCaseFeatures(caseId: string, featureFiles: readonly string[]): string | undefined {
  return featureFiles.find((path) => {
    const name = basename(path);
    return slideIdOf(name) === caseId || name.startsWith(`${caseId}-`);
  });
}
