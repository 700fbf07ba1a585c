import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataLoader, type LoadedSample } from '../../lib/data/loader.js';
import type { FeatureSource, Sample } from '../../lib/data/sample.js';
import { FeatureCache } from '../../lib/io/featureCache.js';
import type { SlideFeatures } from '../../lib/io/features.js';
import { FIXTURES } from '../io/helpers.js';

function samples(count: number, path = (i: number) => `slide${i}.pt`): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `s${i}`,
    slideId: `slide${i}`,
    features: [{ path: path(i) }],
    turns: [
      { role: 'user', text: '<image>\nQ?' },
      { role: 'assistant', text: 'A.' },
    ],
    origin: { file: 'x.json', row: i + 1 },
  }));
}

const fakeSlide = async (source: FeatureSource): Promise<SlideFeatures> => ({ path: source.path, features: new Float32Array(1024), patches: 1 });
const ids = (batch: LoadedSample[]) => batch.map((item) => item.sample.id);

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterator) out.push(item);
  return out;
}

describe('DataLoader', () => {
  it('shuffles deterministically by seed and epoch', () => {
    const make = (seed: number) => new DataLoader(samples(50), { batchSize: 4, seed, collate: ids, readFeatures: fakeSlide });
    expect(make(1).epochOrder(0)).toEqual(make(1).epochOrder(0));
    expect(make(1).epochOrder(0)).not.toEqual(make(1).epochOrder(1));
    expect(make(1).epochOrder(0)).not.toEqual(make(2).epochOrder(0));
    expect([...make(1).epochOrder(3)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new DataLoader(samples(5), { batchSize: 2, shuffle: false, collate: ids, readFeatures: fakeSlide }).epochOrder(7)).toEqual([0, 1, 2, 3, 4]);
  });

  it('shards like DistributedSampler: interleaved ranks, padded by repeating the order', () => {
    const worldSize = 3;
    const ranks = [0, 1, 2].map((rank) => new DataLoader(samples(10), { batchSize: 2, seed: 5, rank, worldSize, collate: ids, readFeatures: fakeSlide }));
    const order = new DataLoader(samples(10), { batchSize: 2, seed: 5, collate: ids, readFeatures: fakeSlide }).epochOrder(2);
    const padded = [...order, order[0], order[1]]; // 10 → 12 = 4 per rank
    ranks.forEach((loader, rank) => {
      expect(loader.samplesPerRank).toBe(4);
      expect(loader.epochOrder(2)).toEqual(padded.filter((_, i) => i % worldSize === rank));
      expect(loader.batchesPerEpoch).toBe(2);
    });
    expect(new Set(ranks.flatMap((l) => l.epochOrder(2))).size).toBe(10);
    // More ranks than samples: the order repeats as often as needed.
    const tiny = [0, 1, 2, 3].map((rank) => new DataLoader(samples(2), { batchSize: 1, shuffle: false, rank, worldSize: 4, collate: ids, readFeatures: fakeSlide }));
    expect(tiny.map((l) => l.epochOrder(0))).toEqual([[0], [1], [0], [1]]);
  });

  it('batches, keeps or drops the short last batch, and resumes mid-epoch', async () => {
    const keep = new DataLoader(samples(7), { batchSize: 3, shuffle: false, collate: ids, readFeatures: fakeSlide });
    expect(await collect(keep.batches(0))).toEqual([['s0', 's1', 's2'], ['s3', 's4', 's5'], ['s6']]);
    expect(await collect(keep.batches(0, 2))).toEqual([['s6']]);
    const drop = new DataLoader(samples(7), { batchSize: 3, shuffle: false, dropLast: true, collate: ids, readFeatures: fakeSlide });
    expect(drop.batchesPerEpoch).toBe(2);
    expect(await collect(drop.batches(0))).toEqual([['s0', 's1', 's2'], ['s3', 's4', 's5']]);
  });

  it('reads the next batches while the caller works on the current one', async () => {
    const requested: string[] = [];
    const readFeatures = async (source: FeatureSource) => {
      requested.push(source.path);
      return fakeSlide(source);
    };
    const loader = new DataLoader(samples(8), { batchSize: 2, shuffle: false, prefetch: 2, collate: ids, readFeatures });
    const seenAtYield: number[] = [];
    for await (const _batch of loader.batches(0)) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // the caller's work
      seenAtYield.push(requested.length);
    }
    // While batch 0 is worked on, batches 1 and 2 (and then 3) are already requested.
    expect(seenAtYield[0]).toBeGreaterThanOrEqual(6);
    expect(seenAtYield.at(-1)).toBe(8);
  });

  it('measures how long the caller waited for features: about nothing when reading keeps ahead', async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const slowRead = async (source: FeatureSource) => {
      await sleep(40);
      return fakeSlide(source);
    };
    const make = () => new DataLoader(samples(6), { batchSize: 1, shuffle: false, prefetch: 2, collate: ids, readFeatures: slowRead });
    // A caller faster than the reads waits for every batch: about 6 × 40 ms less what prefetching overlaps.
    const eager = make();
    await collect(eager.batches(0));
    expect(eager.waitSeconds).toBeGreaterThan(0.035);
    // A caller whose step (100 ms) outlasts the reads waits only for the first batch.
    const busy = make();
    const waits: number[] = [];
    for await (const _batch of busy.batches(0)) {
      waits.push(busy.waitSeconds);
      await sleep(100);
    }
    expect(waits[0]).toBeGreaterThan(0.03);
    expect(busy.waitSeconds - waits[0]).toBeLessThan(0.03);
  });

  it('reads real feature files through a cache, passing slides to collate', async () => {
    const cache = new FeatureCache();
    const paths = ['dict.pt', 'feat512.pt'].map((name) => join(FIXTURES, name));
    const loader = new DataLoader(samples(4, (i) => paths[i % 2]), {
      batchSize: 4,
      shuffle: false,
      cache,
      maxPatches: 4,
      collate: (batch) => batch.map(({ slides }) => [slides[0].patches, slides[0].features.length]),
    });
    expect(await collect(loader.batches(0))).toEqual([[[4, 4096], [4, 4096], [4, 4096], [4, 4096]]]);
    expect(cache.size).toBe(2);
  });

  it('surfaces a feature error from a prefetched batch when that batch is reached', async () => {
    const readFeatures = async (source: FeatureSource) => {
      if (source.path === 'slide3.pt') throw new Error('bad slide3');
      return fakeSlide(source);
    };
    const loader = new DataLoader(samples(6), { batchSize: 2, shuffle: false, collate: ids, readFeatures });
    const seen: string[][] = [];
    await expect(
      (async () => {
        for await (const batch of loader.batches(0)) seen.push(batch);
      })(),
    ).rejects.toThrow('bad slide3');
    expect(seen).toEqual([['s0', 's1']]);
  });

  it('checks its options', () => {
    const base = { collate: ids, readFeatures: fakeSlide };
    expect(() => new DataLoader(samples(2), { ...base, batchSize: 0 })).toThrow(RangeError);
    expect(() => new DataLoader(samples(2), { ...base, batchSize: 1, rank: 2, worldSize: 2 })).toThrow(/rank must be in \[0, 2\)/);
    expect(() => new DataLoader([], { ...base, batchSize: 1 })).toThrow(/no samples/);
  });
});
