import { describe, expect, test } from 'vitest';
import { IGNORE_LABEL, collateConversations, lengthGroupedBatches, type CollateSample } from '../../lib/text/index.js';

const PAD = 151643;
const IMAGE_PAD = 151655;
const _ = IGNORE_LABEL;

/** A slide of `patches` rows of width `width`, row p filled with `first + p`. */
function slide(patches: number, first: number, width = 4) {
  const features = new Float32Array(patches * width);
  for (let p = 0; p < patches; p++) features.fill(first + p, p * width, (p + 1) * width);
  return { features, patches };
}

// Hand-made tokenized samples (ids are arbitrary): two image tokens per slide.
const long: CollateSample = {
  conversation: {
    inputIds: Int32Array.from([1, IMAGE_PAD, IMAGE_PAD, 2, 3, IMAGE_PAD, IMAGE_PAD, 4, 5, 6]),
    labels: Int32Array.from([_, _, _, _, _, _, _, _, 5, 6]),
    imagePositions: [1, 2, 5, 6],
  },
  slides: [slide(3, 100), slide(1, 200)],
};
const short: CollateSample = {
  conversation: {
    inputIds: Int32Array.from([7, IMAGE_PAD, IMAGE_PAD, 8, 9]),
    labels: Int32Array.from([_, _, _, 8, 9]),
    imagePositions: [1, 2],
  },
  slides: [slide(2, 300)],
};

describe('collateConversations', () => {
  test('right-pads two samples of different lengths with the pad token', () => {
    const batch = collateConversations([short, long], { padId: PAD, imageTokens: 2 });
    expect(batch.batchSize).toBe(2);
    expect(batch.sequenceLength).toBe(10);
    expect(Array.from(batch.inputIds)).toEqual([
      7, IMAGE_PAD, IMAGE_PAD, 8, 9, PAD, PAD, PAD, PAD, PAD,
      1, IMAGE_PAD, IMAGE_PAD, 2, 3, IMAGE_PAD, IMAGE_PAD, 4, 5, 6,
    ]);
    expect(Array.from(batch.labels)).toEqual([
      _, _, _, 8, 9, _, _, _, _, _,
      _, _, _, _, _, _, _, _, 5, 6,
    ]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(batch.lengths)).toEqual([5, 10]);
    expect(batch.answerTokens).toBe(4);
  });

  test('places the image tokens per sample and in the flattened batch, slide by slide', () => {
    const batch = collateConversations([short, long], { padId: PAD, imageTokens: 2 });
    expect(batch.imagePositions).toEqual([[1, 2], [1, 2, 5, 6]]);
    expect(Array.from(batch.imageTokenIndices)).toEqual([1, 2, 11, 12, 15, 16]);
    expect(Array.from(batch.imageTokenIndices).every((i) => batch.inputIds[i] === IMAGE_PAD)).toBe(true);
  });

  test('concatenates the slides into a ragged patch batch with offsets', () => {
    const batch = collateConversations([short, long], { padId: PAD, imageTokens: 2 });
    expect(batch.featureWidth).toBe(4);
    expect(Array.from(batch.patchOffsets)).toEqual([0, 2, 5, 6]);
    expect(Array.from(batch.slideSample)).toEqual([0, 1, 1]);
    const firstColumn = Array.from({ length: 6 }, (__, row) => batch.features[row * 4]);
    expect(firstColumn).toEqual([300, 301, 100, 101, 102, 200]);
    expect(batch.features).toHaveLength(6 * 4);
  });

  test('collates text-only samples', () => {
    const text: CollateSample = { conversation: { inputIds: Int32Array.from([1, 2]), labels: Int32Array.from([_, 2]), imagePositions: [] }, slides: [] };
    const batch = collateConversations([text], { padId: PAD, imageTokens: 2 });
    expect(Array.from(batch.patchOffsets)).toEqual([0]);
    expect(batch.features).toHaveLength(0);
    expect(batch.featureWidth).toBe(1024);
  });

  test('names the sample whose slides do not match its image tokens', () => {
    expect(() => collateConversations([short, { ...long, slides: [slide(1, 0)] }], { padId: PAD, imageTokens: 2 })).toThrow(
      /samples\[1\]: 1 slides need 2 image-pad tokens \(K = 2\), the conversation has 4/,
    );
    expect(() => collateConversations([short, { ...long, slides: [slide(1, 0, 8), slide(1, 0)] }], { padId: PAD, imageTokens: 2 })).toThrow(
      /samples\[1\]\.slides\[0\]: feature width 8/,
    );
    expect(() => collateConversations([{ ...short, slides: [{ features: new Float32Array(7), patches: 2 }] }], { padId: PAD, imageTokens: 2 })).toThrow(
      /7 floats do not make 2 patches/,
    );
    expect(() => collateConversations([], { padId: PAD, imageTokens: 2 })).toThrow(RangeError);
  });
});

describe('lengthGroupedBatches', () => {
  const lengths = Array.from({ length: 103 }, (__, i) => (i * 37) % 101 + 1);

  test('uses every sample once, is deterministic by seed, and differs across seeds', () => {
    const batches = lengthGroupedBatches(lengths, { batchSize: 8, seed: 1, megabatchFactor: 4 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((__, i) => i));
    expect(batches.every((b) => b.length <= 8)).toBe(true);
    expect(lengthGroupedBatches(lengths, { batchSize: 8, seed: 1, megabatchFactor: 4 })).toEqual(batches);
    expect(lengthGroupedBatches(lengths, { batchSize: 8, seed: 2, megabatchFactor: 4 })).not.toEqual(batches);
  });

  test('puts the longest sample in the first batch and groups similar lengths', () => {
    const batches = lengthGroupedBatches(lengths, { batchSize: 8, seed: 3, megabatchFactor: 4 });
    expect(batches[0].map((i) => lengths[i])).toContain(Math.max(...lengths));
    // Within a megabatch the samples are sorted, so each batch spans a narrow range of lengths.
    const spread = (batch: number[]) => Math.max(...batch.map((i) => lengths[i])) - Math.min(...batch.map((i) => lengths[i]));
    const meanSpread = batches.reduce((sum, b) => sum + spread(b), 0) / batches.length;
    expect(meanSpread).toBeLessThan(40);
  });

  test('rejects a batch size below one', () => {
    expect(() => lengthGroupedBatches(lengths, { batchSize: 0, seed: 1 })).toThrow(RangeError);
  });
});
