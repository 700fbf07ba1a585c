/** Finding every problem in a dataset: unreadable records, missing or bad feature files, bad prompts and answers. */
import { existsSync } from 'node:fs';
import { WsiVqaError } from '../errors.js';
import { readSlideFeatures } from '../io/features.js';
import { type DatasetFormat, parseDataset } from './dataset.js';
import type { DatasetProblem } from './sample.js';
import { sampleProblems } from './validate.js';

/** Options of {@link checkDataset}. */
export interface CheckDatasetOptions {
  /** Folder that relative feature paths are looked up in. Default: the dataset file's folder. */
  featuresDir?: string;
  /** The file's format. Default: detected. */
  format?: DatasetFormat;
}

/** The outcome of {@link checkDataset}. */
export interface DatasetCheck {
  /** True when no problem was found. */
  ok: boolean;
  /** Number of samples that could be read. */
  samples: number;
  /** Every problem, with file and row (row 0: the whole file). */
  problems: DatasetProblem[];
  /** Each kind of problem (the message, less the feature file's path) and how many times it comes, most frequent first. */
  kinds: { kind: string; count: number }[];
  /** The distinct feature files the samples name: how many, how many read cleanly, how many do not exist. */
  featureFiles: { named: number; read: number; missing: number };
}

/**
 * Checks a dataset file completely: records that cannot be read, then for every sample a missing
 * `<image>` placeholder, an answer that is not among its choices, and a feature file that is
 * missing or unreadable (every feature file is read once: width, NaN/Inf, no patches, format).
 * Problems of the file as a whole (unreadable, unknown format) are reported at row 0.
 */
export async function checkDataset(file: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  let parsed;
  try {
    parsed = await parseDataset(file, options);
  } catch (error) {
    if (!(error instanceof WsiVqaError)) throw error;
    const problems = [{ file, row: 0, message: error.message }];
    return { ok: false, samples: 0, problems, kinds: [{ kind: error.message, count: 1 }], featureFiles: { named: 0, read: 0, missing: 0 } };
  }
  const problems: (DatasetProblem & { kind: string })[] = parsed.problems.map((p) => ({ ...p, kind: p.message }));
  const featureErrors = new Map<string, string | undefined>();
  for (const sample of parsed.samples) {
    const at = { file: sample.origin.file, row: sample.origin.row };
    for (const message of sampleProblems(sample)) problems.push({ ...at, message, kind: message });
    for (const { path } of sample.features) {
      if (!featureErrors.has(path)) featureErrors.set(path, await featureError(path));
      const message = featureErrors.get(path);
      if (message) problems.push({ ...at, message: `features: ${message}`, kind: `features: ${message.replace(`${path}: `, '')}` });
    }
  }
  problems.sort((a, b) => a.row - b.row);
  const counts = new Map<string, number>();
  for (const { kind } of problems) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const unreadable = [...featureErrors].filter(([, message]) => message !== undefined).map(([path]) => path);
  return {
    ok: problems.length === 0,
    samples: parsed.samples.length,
    problems: problems.map(({ file, row, message }) => ({ file, row, message })),
    kinds: [...counts].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count),
    featureFiles: { named: featureErrors.size, read: featureErrors.size - unreadable.length, missing: unreadable.filter((path) => !existsSync(path)).length },
  };
}

/** Why the feature file cannot be used, or undefined when it can. */
async function featureError(path: string): Promise<string | undefined> {
  try {
    await readSlideFeatures(path);
    return undefined;
  } catch (error) {
    if (error instanceof WsiVqaError) return error.message;
    throw error;
  }
}
