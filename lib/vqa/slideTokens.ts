/**
 * Slides → the LLM's image embeddings: the MoE compressor (S, K, 1024) then the projector
 * (S·K, hidden). The compressor is frozen in stages 1 and 2 and at inference (no noise, no
 * dropout, no gradient) unless it trains too (`--train-compressor`): then it runs in training
 * mode and the gradient goes on through the projector into it. The projector's backward is kept
 * for training.
 */
import type { CompressSaved, MoeCompressor } from '../moe.js';
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
  /** When the compressor trains: its input (N, 1024) and what its backward needs. */
  compressor?: { x: Tensor; saved: CompressSaved };
}

/** A training forward of the compressor, seeded (noise and dropout). */
export interface CompressorTraining {
  seed: number;
}

/** Compresses and projects the slides of a batch; release with {@link releaseSlideEmbeddings} or {@link backwardSlideEmbeddings}. */
export function embedSlides(compressor: MoeCompressor, projector: ProjectorWeights, slides: SlideBatch, device: Device, training?: CompressorTraining): SlideEmbeddings {
  const count = slides.patchOffsets.length - 1;
  const patches = slides.patchOffsets[count];
  const x = Tensor.from(slides.features.subarray(0, patches * compressor.width), [patches, compressor.width], { device });
  const { out, saved } = compressor.forward(x, slides.patchOffsets, { training: training !== undefined, seed: training?.seed });
  const compressed = out.reshape([count * compressor.slots, compressor.width]);
  out.dispose();
  const projected = projectorForward(projector, compressed);
  if (!saved) x.dispose();
  return { embeds: projected.out, saved: projected.saved, compressed, compressor: saved && { x, saved } };
}

/**
 * Backward through the projector into `grads` (accumulated), and on into the compressor's
 * `compressorGrads` (by parameter name) when it trains; then releases everything.
 */
export function backwardSlideEmbeddings(projector: ProjectorWeights, slides: SlideEmbeddings, dEmbeds: Tensor, grads: ProjectorWeights, compressor?: { model: MoeCompressor; grads: Map<string, Tensor> }): void {
  using dCompressed = projectorBackward(projector, slides.saved, dEmbeds, grads);
  if (compressor && slides.compressor) {
    const { model } = compressor;
    using dSlots = dCompressed.reshape([dCompressed.shape[0] / model.slots, model.slots, model.width]);
    model.backward(slides.compressor.saved, dSlots, 0, compressor.grads).dispose(); // disposes what it saved
    slides.compressor.x.dispose();
    slides.compressor = undefined;
  }
  releaseSlideEmbeddings(slides);
}

/** Releases what {@link embedSlides} made (disposing twice is harmless). */
export function releaseSlideEmbeddings(slides: SlideEmbeddings): void {
  for (const t of [slides.embeds, slides.compressed, slides.saved.pre, slides.saved.act]) t.dispose();
  if (slides.compressor) {
    const { x, saved } = slides.compressor;
    for (const t of [x, saved.logits, saved.offsets, saved.probs, saved.slotLoad, saved.weights, saved.slots, saved.denom, ...Object.values(saved.experts)]) t.dispose();
    slides.compressor = undefined;
  }
}
