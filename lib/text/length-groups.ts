/**
 * Length-grouped batching: batches of samples of similar length, so little of a batch is padding,
 * while the order stays random from epoch to epoch (Hugging Face's `LengthGroupedSampler`).
 */
import { mulberry32, shuffleInPlace } from '../random.js';

/** How samples are grouped. */
export interface LengthGroupOptions {
  /** Samples per batch (the last batch may be smaller). */
  batchSize: number;
  /** Integer seed of the shuffle; the same seed and lengths give the same batches. Mix in the epoch for a new order each epoch. */
  seed: number;
  /** Samples sorted together = batchSize × this. Larger groups pad less but are less random. Default 50 (as Hugging Face). */
  megabatchFactor?: number;
}

/**
 * Sample indices grouped into batches of similar length: the samples are shuffled by `seed`,
 * cut into megabatches of `batchSize × megabatchFactor`, each sorted longest first and cut into
 * batches; the batch holding the longest sample comes first (an out-of-memory shows at once).
 * `lengths[i]` is sample i's token count. Every index appears exactly once.
 */
export function lengthGroupedBatches(lengths: readonly number[], options: LengthGroupOptions): number[][] {
  const { batchSize, seed, megabatchFactor = 50 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize: expected a positive integer, got ${batchSize}`);
  if (!Number.isInteger(megabatchFactor) || megabatchFactor < 1) {
    throw new RangeError(`megabatchFactor: expected a positive integer, got ${megabatchFactor}`);
  }
  const order = shuffled(lengths.length, seed);
  const megabatch = batchSize * megabatchFactor;
  const batches: number[][] = [];
  for (let m = 0; m < order.length; m += megabatch) {
    const group = order.slice(m, m + megabatch).sort((a, b) => lengths[b] - lengths[a]);
    for (let b = 0; b < group.length; b += batchSize) batches.push(group.slice(b, b + batchSize));
  }
  const longestSample = order.reduce((best, i) => (lengths[i] > lengths[best] ? i : best), order[0]);
  const longest = batches.findIndex((batch) => batch.includes(longestSample));
  if (longest > 0) [batches[0], batches[longest]] = [batches[longest], batches[0]];
  return batches;
}

/** 0 … n − 1 in a random order fixed by `seed`. */
function shuffled(n: number, seed: number): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), mulberry32(seed));
}
