/**
 * Collation: several tokenized conversations and their slides → one batch.
 *
 * Text is right-padded to the longest sample with the real pad token (`<|endoftext|>`), labels
 * -100 on padding. Slides are a ragged batch: their patch features are concatenated, and
 * `patchOffsets` says which rows belong to which slide (never zero-padded).
 */
import { ShapeError } from '../errors.js';
import { IGNORE_LABEL, type TokenizedConversation } from './chat.js';
import { FEATURE_WIDTH } from '../io/features.js';
import type { SlideFeatures } from '../io/features.js';

/** The patch features of one slide, as the feature readers give them: float32 [N, W] and N. */
export type SlidePatches = Pick<SlideFeatures, 'features' | 'patches'>;

/** One sample to collate: a tokenized conversation and the slides of its `<image>` placeholders, in order. */
export interface CollateSample {
  conversation: TokenizedConversation;
  slides: readonly SlidePatches[];
}

/** A collated batch. B = samples, T = longest sequence, S = slides, P = patches of all slides, K = image tokens per slide. */
export interface VqaBatch {
  /** B. */
  batchSize: number;
  /** T. */
  sequenceLength: number;
  /** int32 [B, T]: token ids, right-padded with the pad token. */
  inputIds: Int32Array;
  /** int32 [B, T]: answer token ids, -100 elsewhere and on padding (unshifted: the loss compares logits at t − 1 with labels at t). */
  labels: Int32Array;
  /** uint8 [B, T]: 1 on real tokens, 0 on padding. */
  attentionMask: Uint8Array;
  /** int32 [B]: real tokens per sample. */
  lengths: Int32Array;
  /** Labelled (answer) tokens in the batch: the loss of an optimizer step divides by the sum of these over its micro-batches and ranks. */
  answerTokens: number;
  /** Per sample, the positions (within its row) of its image-pad tokens. */
  imagePositions: number[][];
  /** int32 [S·K]: every image-pad token as an index into the flattened [B·T] sequence; slide s's K tokens are entries s·K … s·K + K − 1. */
  imageTokenIndices: Int32Array;
  /** float32 [P, W]: the patch features of all slides, concatenated in slide order. */
  features: Float32Array;
  /** W: feature width. */
  featureWidth: number;
  /** int32 [S + 1]: slide s owns feature rows patchOffsets[s] … patchOffsets[s + 1] − 1. */
  patchOffsets: Int32Array;
  /** int32 [S]: the sample each slide belongs to. */
  slideSample: Int32Array;
}

/** How samples are collated. */
export interface CollateOptions {
  /** The pad token id: `tokenizer.ids.pad` (`<|endoftext|>` for Qwen3). */
  padId: number;
  /** K: image-pad tokens per slide, as given to `tokenizeConversation`. */
  imageTokens: number;
}

/**
 * Collates samples into a {@link VqaBatch}. Each sample needs one slide per `<image>`
 * placeholder (K image-pad tokens each), and all slides the same feature width.
 */
export function collateConversations(samples: readonly CollateSample[], options: CollateOptions): VqaBatch {
  if (samples.length === 0) throw new RangeError('samples: a batch needs at least one sample');
  const batchSize = samples.length;
  const sequenceLength = Math.max(...samples.map((s) => s.conversation.inputIds.length));
  checkImageTokens(samples, options.imageTokens);
  const slides = samples.flatMap((s) => s.slides);
  const featureWidth = checkFeatureWidth(samples);

  const inputIds = new Int32Array(batchSize * sequenceLength).fill(options.padId);
  const labels = new Int32Array(batchSize * sequenceLength).fill(IGNORE_LABEL);
  const attentionMask = new Uint8Array(batchSize * sequenceLength);
  const lengths = new Int32Array(batchSize);
  const imageTokenIndices: number[] = [];
  let answerTokens = 0;
  samples.forEach(({ conversation }, b) => {
    const row = b * sequenceLength;
    const length = conversation.inputIds.length;
    if (conversation.labels.length !== length) {
      throw new ShapeError(`samples[${b}]: labels has ${conversation.labels.length} entries for ${length} input ids`);
    }
    inputIds.set(conversation.inputIds, row);
    labels.set(conversation.labels, row);
    attentionMask.fill(1, row, row + length);
    lengths[b] = length;
    for (const position of conversation.imagePositions) imageTokenIndices.push(row + position);
    for (const label of conversation.labels) if (label !== IGNORE_LABEL) answerTokens++;
  });

  const patchOffsets = new Int32Array(slides.length + 1);
  slides.forEach((slide, s) => (patchOffsets[s + 1] = patchOffsets[s] + slide.patches));
  const features = new Float32Array(patchOffsets[slides.length] * featureWidth);
  slides.forEach((slide, s) => features.set(slide.features, patchOffsets[s] * featureWidth));
  const slideSample = Int32Array.from(samples.flatMap((sample, b) => sample.slides.map(() => b)));

  return {
    batchSize,
    sequenceLength,
    inputIds,
    labels,
    attentionMask,
    lengths,
    answerTokens,
    imagePositions: samples.map((s) => [...s.conversation.imagePositions]),
    imageTokenIndices: Int32Array.from(imageTokenIndices),
    features,
    featureWidth,
    patchOffsets,
    slideSample,
  };
}

/** Checks that each sample has K image-pad tokens per slide. */
function checkImageTokens(samples: readonly CollateSample[], imageTokens: number): void {
  if (!Number.isInteger(imageTokens) || imageTokens < 1) throw new RangeError(`imageTokens: expected a positive integer, got ${imageTokens}`);
  samples.forEach(({ conversation, slides }, b) => {
    const positions = conversation.imagePositions.length;
    if (positions !== slides.length * imageTokens) {
      throw new ShapeError(
        `samples[${b}]: ${slides.length} slides need ${slides.length * imageTokens} image-pad tokens (K = ${imageTokens}), the conversation has ${positions}`,
      );
    }
  });
}

/** W, the same for every slide, each holding `patches` ≥ 1 rows of W floats (1024 when the batch has no slides). */
function checkFeatureWidth(samples: readonly CollateSample[]): number {
  let width: number | undefined;
  samples.forEach(({ slides }, b) =>
    slides.forEach(({ features, patches }, s) => {
      const w = features.length / patches;
      if (!Number.isInteger(patches) || patches < 1 || !Number.isInteger(w)) {
        throw new ShapeError(`samples[${b}].slides[${s}]: ${features.length} floats do not make ${patches} patches`);
      }
      if (width !== undefined && w !== width) {
        throw new ShapeError(`samples[${b}].slides[${s}]: feature width ${w}, but earlier slides have ${width}`);
      }
      width = w;
    }),
  );
  return width ?? FEATURE_WIDTH;
}
