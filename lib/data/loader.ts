/**
 * The data loader: a deterministic shuffle per (seed, epoch), sharding across ranks the way
 * PyTorch's DistributedSampler does, batching, and reading the next batches' slide features
 * while the caller works on the current one (the feature readers start each file's read as one
 * job on a libuv thread, which goes on through a synchronous training step), measuring how long
 * the caller waited for them. Turning a batch into tensors is the caller's `collate` function.
 */
import { type SlideFeatures, readSlideFeatures } from '../io/features.js';
import type { FeatureCache } from '../io/featureCache.js';
import type { FeatureSource, Sample } from './sample.js';
import { seededRandom, shuffleInPlace } from '../random.js';

/** A sample with its slide features read: `slides[i]` is from `sample.features[i]`. */
export interface LoadedSample {
  sample: Sample;
  slides: SlideFeatures[];
}

/** Options of a {@link DataLoader}. */
export interface DataLoaderOptions<Batch> {
  /** Samples per batch on each rank. */
  batchSize: number;
  /** Turns a batch of loaded samples into what the model takes (tokens, labels, ragged patches). */
  collate: (batch: LoadedSample[]) => Batch | Promise<Batch>;
  /** Shuffle seed; the order of an epoch depends only on (seed, epoch). Default 0. */
  seed?: number;
  /** Shuffle the samples each epoch. Default true. */
  shuffle?: boolean;
  /** This process's rank, 0 ≤ rank < worldSize. Default 0. */
  rank?: number;
  /** Number of ranks sharing the dataset. Default 1. */
  worldSize?: number;
  /** Drop the last batch of a rank when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Batches read ahead of the one the caller is working on. Default 2. */
  prefetch?: number;
  /** Patch cap per slide (evenly spaced), passed to the default feature reader. Default: none. */
  maxPatches?: number;
  /** Cache for the default feature reader, so repeated slides are parsed once. Default: none. */
  cache?: FeatureCache;
  /** Reads one feature source. Default: {@link readSlideFeatures} with `maxPatches` and `cache`. */
  readFeatures?: (source: FeatureSource) => Promise<SlideFeatures>;
}

/** Iterates a dataset in batches, epoch by epoch. */
export class DataLoader<Batch> {
  private readonly samples: readonly Sample[];
  private readonly options: Required<Omit<DataLoaderOptions<Batch>, 'maxPatches' | 'cache' | 'readFeatures'>>;
  private readonly readFeatures: (source: FeatureSource) => Promise<SlideFeatures>;
  private waited = 0;

  constructor(samples: readonly Sample[], options: DataLoaderOptions<Batch>) {
    const { batchSize, rank = 0, worldSize = 1, prefetch = 2 } = options;
    const positive = (n: number) => Number.isSafeInteger(n) && n > 0;
    if (!positive(batchSize)) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!positive(worldSize)) throw new RangeError(`DataLoader: worldSize must be a positive integer, got ${worldSize}`);
    if (!(Number.isSafeInteger(rank) && rank >= 0 && rank < worldSize)) throw new RangeError(`DataLoader: rank must be in [0, ${worldSize}), got ${rank}`);
    if (!(Number.isSafeInteger(prefetch) && prefetch >= 0)) throw new RangeError(`DataLoader: prefetch must be a non-negative integer, got ${prefetch}`);
    if (samples.length === 0) throw new RangeError('DataLoader: no samples');
    this.samples = samples;
    this.options = { batchSize, rank, worldSize, prefetch, collate: options.collate, seed: options.seed ?? 0, shuffle: options.shuffle ?? true, dropLast: options.dropLast ?? false };
    const { maxPatches, cache } = options;
    this.readFeatures = options.readFeatures ?? ((source) => readSlideFeatures(source.path, { maxPatches, cache }));
  }

  /**
   * Seconds the consumer has waited, since the loader was made, for a batch whose features were
   * not read yet: 0 when reading keeps ahead of the steps (the trainer logs it per step).
   */
  get waitSeconds(): number {
    return this.waited;
  }

  /** Samples each rank sees per epoch: ceil(samples / worldSize) (short ranks repeat samples from the start of the order). */
  get samplesPerRank(): number {
    return Math.ceil(this.samples.length / this.options.worldSize);
  }

  /** Batches per epoch on each rank (the same on every rank). */
  get batchesPerEpoch(): number {
    const { batchSize, dropLast } = this.options;
    return dropLast ? Math.floor(this.samplesPerRank / batchSize) : Math.ceil(this.samplesPerRank / batchSize);
  }

  /**
   * This rank's sample indices for `epoch`, in order: the epoch's permutation, padded by
   * repeating it from the start to a multiple of worldSize, then every worldSize-th index from `rank`.
   */
  epochOrder(epoch: number): number[] {
    const { shuffle, seed, rank, worldSize } = this.options;
    const order = this.samples.map((_, i) => i);
    if (shuffle) shuffleInPlace(order, seededRandom(seed, epoch));
    const total = this.samplesPerRank * worldSize;
    const padded = Array.from({ length: total }, (_, i) => order[i % order.length]);
    return padded.filter((_, i) => i % worldSize === rank);
  }

  /**
   * The batches of `epoch` on this rank, collated. While the caller works on one batch, the
   * next `prefetch` batches are being read. `fromBatch` skips the first batches (resuming mid-epoch).
   */
  async *batches(epoch: number, fromBatch = 0): AsyncGenerator<Batch> {
    const { batchSize, prefetch } = this.options;
    const order = this.epochOrder(epoch);
    const groups = Array.from({ length: this.batchesPerEpoch }, (_, b) => order.slice(b * batchSize, (b + 1) * batchSize)).slice(fromBatch);
    const inFlight: Promise<Batch>[] = [];
    let next = 0;
    const startNext = () => {
      const batch = this.loadBatch(groups[next++]);
      batch.catch(() => undefined); // awaited in turn below; this keeps an early failure from going unhandled
      inFlight.push(batch);
    };
    while (next < groups.length && inFlight.length <= prefetch) startNext();
    while (inFlight.length > 0) {
      const asked = performance.now();
      const batch = await inFlight.shift()!;
      this.waited += (performance.now() - asked) / 1000;
      if (next < groups.length) startNext();
      yield batch;
    }
  }

  private async loadBatch(indices: number[]): Promise<Batch> {
    const loaded = await Promise.all(
      indices.map(async (index) => {
        const sample = this.samples[index];
        return { sample, slides: await Promise.all(sample.features.map(this.readFeatures)) };
      }),
    );
    return this.options.collate(loaded);
  }
}
