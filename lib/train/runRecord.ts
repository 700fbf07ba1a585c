/**
 * What a run was started with, recorded in each of its checkpoints so that `resume` continues
 * only the same run: a checkpoint of another run (another seed, learning rate, dataset or model)
 * in the output folder would otherwise be continued silently, and the new run's first steps lost.
 *
 * The record holds every config setting that changes the weights (all but the output folder and
 * how often to evaluate and save, which may change between the two halves of a run), the global
 * micro-batch (a run may resume on another number of ranks as long as batch size × ranks stays
 * the same: the data order and the steps are then the same), the trained parameters' names,
 * shapes and dtypes, and what the caller says the run reads, as digests (`sources`: the dataset
 * file, the model folder, …; see `fingerprint.ts`).
 */
import { createHash } from 'node:crypto';
import type { TrainConfig } from './config.js';
import type { TrainableParameter } from './task.js';

/** Config keys that may differ between a checkpoint and the run resuming from it. */
export const RESUMABLE_CONFIG_CHANGES: readonly (keyof TrainConfig)[] = ['outputDir', 'evalEvery', 'saveEvery', 'batchSize'];

export interface RunRecord {
  /** The config without {@link RESUMABLE_CONFIG_CHANGES}. */
  config: Record<string, unknown>;
  /** Samples per micro-batch over all ranks: the config's batch size × the ranks. */
  globalBatchSize: number;
  /** The trained parameters: count, elements, dtypes and a hash of every name, shape and dtype. */
  parameters: string;
  /** What the run reads, by name (e.g. `data`, `model`), as the caller describes it (a digest). */
  sources: Record<string, string>;
}

/** The record of a run of `config` over `ranks` ranks training `params`, reading `sources`. */
export function makeRunRecord(config: TrainConfig, ranks: number, params: readonly TrainableParameter[], sources: Readonly<Record<string, string>> = {}): RunRecord {
  return { config: weightDecidingConfig(config), globalBatchSize: config.batchSize * ranks, parameters: describeParameters(params), sources: { ...sources } };
}

/**
 * How the run that wrote a checkpoint differs from this one, one line per difference (empty when
 * they are the same run). `saved` is the checkpoint's record, or, for a checkpoint written before
 * records were kept, undefined (then only its config is compared).
 */
export function runDifferences(saved: RunRecord | undefined, savedConfig: TrainConfig, current: RunRecord): string[] {
  const differences: string[] = [];
  const compare = (what: string, there: unknown, here: unknown) => {
    if (JSON.stringify(there) !== JSON.stringify(here)) differences.push(`${what}: ${show(there)} in the checkpoint, ${show(here)} now`);
  };
  const config = saved?.config ?? weightDecidingConfig(savedConfig);
  for (const key of new Set([...Object.keys(config), ...Object.keys(current.config)])) compare(key, config[key], current.config[key]);
  if (saved) {
    compare('batch size × ranks', saved.globalBatchSize, current.globalBatchSize);
    compare('trained parameters', saved.parameters, current.parameters);
    for (const key of new Set([...Object.keys(saved.sources), ...Object.keys(current.sources)])) compare(key, saved.sources[key], current.sources[key]);
  }
  return differences;
}

/** The parameters' count, size and dtypes, and a hash of every name, shape and dtype. */
export function describeParameters(params: readonly TrainableParameter[]): string {
  const list = params.map(({ name, value }) => `${name} ${value.dtype} [${value.shape.join(', ')}]`).join('\n');
  const elements = params.reduce((sum, { value }) => sum + value.numel, 0);
  const dtypes = [...new Set(params.map(({ value }) => value.dtype))].join(', ');
  return `${params.length} tensors of ${elements} elements (${dtypes}), names and shapes ${createHash('sha256').update(list).digest('hex').slice(0, 12)}`;
}

function weightDecidingConfig(config: TrainConfig): Record<string, unknown> {
  const kept: Record<string, unknown> = { ...config };
  for (const key of RESUMABLE_CONFIG_CHANGES) delete kept[key];
  return kept;
}

function show(value: unknown): string {
  return value === undefined ? '(not recorded)' : typeof value === 'string' ? value : JSON.stringify(value);
}
