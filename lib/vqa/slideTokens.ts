/**
 * Slides → the LLM's image embeddings: the MoE compressor (S, K, 1024) then the projector
 * (S·K, hidden). The compressor is frozen in stages 1 and 2 and at inference (no noise, no
 * dropout, no gradient); the projector's backward is kept for training.
 */
import type { MoeCompressor } from '../moe.js';
import { type ProjectorSaved, type ProjectorWeights, projectorBackward, projectorForward } from '../projector.js';
import type { Device } from '../native.js';
import { Tensor } from '../tensor.js';

/** A ragged batch of slides: patch features [P, 1024] concatenated, slide s owning rows offsets[s] … offsets[s+1]. */
export interface SlideBatch {
  features: Float32Array;
  patchOffsets: Int32Array;
}

/** The slides' embeddings and what the projector's backward needs. */
export interface SlideEmbeddings {
  /** (S·K, hidden): slide s's K tokens are rows s·K … s·K + K − 1. */
  embeds: Tensor;
  saved: ProjectorSaved;
  /** The compressed slides (S·K, 1024), owned here (the projector's input). */
  compressed: Tensor;
}

/** Compresses and projects the slides of a batch; release with {@link releaseSlideEmbeddings} or {@link backwardSlideEmbeddings}. */
export function embedSlides(compressor: MoeCompressor, projector: ProjectorWeights, slides: SlideBatch, device: Device): SlideEmbeddings {
  const count = slides.patchOffsets.length - 1;
  const patches = slides.patchOffsets[count];
  using x = Tensor.from(slides.features.subarray(0, patches * compressor.width), [patches, compressor.width], { device });
  const { out } = compressor.forward(x, slides.patchOffsets);
  const compressed = out.reshape([count * compressor.slots, compressor.width]);
  out.dispose();
  const projected = projectorForward(projector, compressed);
  return { embeds: projected.out, saved: projected.saved, compressed };
}

/** Backward through the projector into `grads` (accumulated), then releases everything. */
export function backwardSlideEmbeddings(projector: ProjectorWeights, slides: SlideEmbeddings, dEmbeds: Tensor, grads: ProjectorWeights): void {
  projectorBackward(projector, slides.saved, dEmbeds, grads).dispose();
  releaseSlideEmbeddings(slides);
}

/** Releases what {@link embedSlides} made (disposing twice is harmless). */
export function releaseSlideEmbeddings(slides: SlideEmbeddings): void {
  for (const t of [slides.embeds, slides.compressed, slides.saved.pre, slides.saved.act]) t.dispose();
}
