/**
 * Stages 1 and 2 as trainer tasks. Stage 1 trains the projector on captions: the LLM
 * is frozen, yet the gradient flows back through it to the image rows (no weight-gradient GEMM).
 * Stage 2 trains the projector and the whole LLM on conversations. The compressor stays frozen
 * in both. Weights are written as `projector.safetensors`, and in stage 2 also `llm/` in
 * Hugging Face layout.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { openQwen3Checkpoint } from '../model/checkpoint.js';
import type { ProjectorWeights } from '../projector.js';
import { loadProjector, saveProjector } from '../projectorState.js';
import { scale } from '../ops.js';
import { fill } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { VqaBatch } from '../text/collate.js';
import type { FlatParameters, StepContext, TrainTask, TrainableParameter } from '../train/task.js';
import { backwardSlideEmbeddings, embedSlides } from './slideTokens.js';
import type { VqaModel } from './vqaModel.js';

export const PROJECTOR_FILE = 'projector.safetensors';
export const LLM_DIR = 'llm';

export class VqaTask implements TrainTask<VqaBatch> {
  readonly model: VqaModel;
  readonly stage: 1 | 2;
  readonly #projectorGrads: ProjectorWeights;
  /** Metrics on held-out questions, when given (accuracy on a benchmark). */
  readonly evaluate?: () => Promise<Record<string, number>>;

  constructor(model: VqaModel, stage: 1 | 2, options: { evaluate?: () => Promise<Record<string, number>> } = {}) {
    this.model = model;
    this.stage = stage;
    const zerosLike = (t: Tensor) => Tensor.zeros(t.shape, { device: t.device });
    const p = model.projector;
    this.#projectorGrads = { fc1Weight: zerosLike(p.fc1Weight), fc1Bias: zerosLike(p.fc1Bias), fc2Weight: zerosLike(p.fc2Weight), fc2Bias: zerosLike(p.fc2Bias) };
    this.evaluate = options.evaluate;
  }

  parameters(): TrainableParameter[] {
    const projector = (Object.keys(this.model.projector) as (keyof ProjectorWeights)[]).map((key) => ({
      name: `projector.${key}`,
      value: this.model.projector[key],
      grad: this.#projectorGrads[key],
    }));
    if (this.stage === 1) return projector;
    const grads = this.model.llm.gradients();
    return [...projector, ...[...this.model.llm.params.tensors].map(([name, value]) => ({ name: `llm.${name}`, value, grad: grads.get(name) }))];
  }

  /** Stage 2: the LLM's parameters and gradients, each one buffer. */
  flatParameters(): FlatParameters[] {
    if (this.stage === 1) return [];
    const { llm } = this.model;
    return [{ values: llm.params.buffer, grads: llm.gradients().buffer, names: [...llm.params.tensors.keys()].map((name) => `llm.${name}`) }];
  }

  zeroGradients(): void {
    for (const g of Object.values(this.#projectorGrads)) fill(g);
    if (this.stage === 2) this.model.llm.zeroGradients();
  }

  async forwardBackward(batch: VqaBatch, context?: StepContext): Promise<{ lossSum: number; count: number }> {
    const { model } = this;
    const slides = embedSlides(model.compressor, model.projector, batch, model.device);
    const weightGradients = this.stage === 2;
    const state = model.llm.forward({
      ids: batch.inputIds,
      batch: batch.batchSize,
      tokens: batch.sequenceLength,
      seqLens: batch.lengths,
      image: { embeds: slides.embeds, rows: batch.imageTokenIndices },
    });
    const { loss, count, dHidden } = model.llm.loss(state, batch.labels, { headGrad: weightGradients });
    const ready = context?.gradientsReady;
    const { dImage } = model.llm.backward(state, dHidden, {
      weightGradients,
      gradientsReady: ready && ((names) => ready(names.map((name) => `llm.${name}`))),
    });
    dHidden.dispose();
    backwardSlideEmbeddings(model.projector, slides, dImage!, this.#projectorGrads);
    dImage!.dispose();
    ready?.(Object.keys(this.#projectorGrads).map((key) => `projector.${key}`));
    return { lossSum: loss, count };
  }

  async saveWeights(dir: string): Promise<void> {
    await saveProjector(join(dir, PROJECTOR_FILE), this.model.projector);
    if (this.stage === 2) await this.model.llm.save(join(dir, LLM_DIR), { copyFrom: this.model.llmPath });
  }

  async loadWeights(dir: string): Promise<void> {
    const { model } = this;
    const loaded = await loadProjector(join(dir, PROJECTOR_FILE), model.llm.config.hidden_size, { device: model.device });
    for (const key of Object.keys(loaded) as (keyof ProjectorWeights)[]) {
      scale(loaded[key], 1, { out: model.projector[key] });
      loaded[key].dispose();
    }
    const llmDir = join(dir, LLM_DIR);
    if (this.stage === 2 && existsSync(llmDir)) {
      // Tensor by tensor into the parameters: the checkpoint is never whole in host memory.
      const reader = await openQwen3Checkpoint(llmDir);
      try {
        for await (const [name, stored] of reader.tensors()) model.llm.params.load(name, stored, llmDir);
      } finally {
        await reader.close();
      }
    }
  }

  dispose(): void {
    for (const g of Object.values(this.#projectorGrads)) g.dispose();
  }
}
