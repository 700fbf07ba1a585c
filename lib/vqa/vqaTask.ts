/**
 * Stages 1 and 2 as trainer tasks. Stage 1 trains the projector on captions: the LLM
 * is frozen, yet the gradient flows back through it to the image rows (no weight-gradient GEMM).
 * Stage 2 trains the projector and the whole LLM on conversations. The compressor stays frozen
 * in both, as in the seed, unless `trainCompressor` is given (`--train-compressor`): then it
 * trains too, in training mode (gate noise, expert dropout), at its own learning rate, with the
 * gradient of the answers' loss. Weights are written as `projector.safetensors`, in stage 2
 * also `llm/` in Hugging Face layout, and a trained compressor as TC-SSA's `moe_best.pt`.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { openQwen3Checkpoint } from '../model/checkpoint.js';
import type { ProjectorWeights } from '../projector.js';
import { loadProjector, saveProjector } from '../projectorState.js';
import { loadCompressor } from '../compressorState.js';
import { writeTorchStateDict } from '../io/torchSave.js';
import { scale } from '../ops.js';
import { fill } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { VqaBatch } from '../text/collate.js';
import type { FlatParameters, StepContext, TrainTask, TrainableParameter } from '../train/task.js';
import { backwardSlideEmbeddings, embedSlides } from './slideTokens.js';
import type { VqaModel } from './vqaModel.js';

export const PROJECTOR_FILE = 'projector.safetensors';
export const LLM_DIR = 'llm';
/** A compressor trained in stage 1 or 2, as TC-SSA's `moe_best.pt`: `{'model_state_dict': {'compressor.<name>': tensor}}`, what its VQA model loads. */
export const TRAINED_COMPRESSOR_FILE = 'moe_best.pt';

/** Options of {@link VqaTask}. */
export interface VqaTaskOptions {
  /** Metrics on held-out questions, when given (accuracy on a benchmark). */
  evaluate?: () => Promise<Record<string, number>>;
  /** Train the compressor too; `lrScale`: its learning rate as a multiple of the run's (default 1). */
  trainCompressor?: { lrScale?: number };
}

export class VqaTask implements TrainTask<VqaBatch> {
  readonly model: VqaModel;
  readonly stage: 1 | 2;
  readonly #projectorGrads: ProjectorWeights;
  /** The compressor's gradients by parameter name, when it trains. */
  readonly #compressorGrads?: Map<string, Tensor>;
  readonly #compressorLrScale: number;
  /** Metrics on held-out questions, when given (accuracy on a benchmark). */
  readonly evaluate?: () => Promise<Record<string, number>>;

  constructor(model: VqaModel, stage: 1 | 2, options: VqaTaskOptions = {}) {
    this.model = model;
    this.stage = stage;
    const zerosLike = (t: Tensor) => Tensor.zeros(t.shape, { device: t.device });
    const p = model.projector;
    this.#projectorGrads = { fc1Weight: zerosLike(p.fc1Weight), fc1Bias: zerosLike(p.fc1Bias), fc2Weight: zerosLike(p.fc2Weight), fc2Bias: zerosLike(p.fc2Bias) };
    if (options.trainCompressor) this.#compressorGrads = new Map([...model.compressor.params].map(([name, value]) => [name, zerosLike(value)]));
    this.#compressorLrScale = options.trainCompressor?.lrScale ?? 1;
    this.evaluate = options.evaluate;
  }

  parameters(): TrainableParameter[] {
    const projector = (Object.keys(this.model.projector) as (keyof ProjectorWeights)[]).map((key) => ({
      name: `projector.${key}`,
      value: this.model.projector[key],
      grad: this.#projectorGrads[key],
    }));
    const compressor = [...(this.#compressorGrads ?? [])].map(([name, grad]) => ({ name: `compressor.${name}`, value: this.model.compressor.params.get(name)!, grad, lrScale: this.#compressorLrScale }));
    if (this.stage === 1) return [...projector, ...compressor];
    const grads = this.model.llm.gradients();
    return [...projector, ...compressor, ...[...this.model.llm.params.tensors].map(([name, value]) => ({ name: `llm.${name}`, value, grad: grads.get(name) }))];
  }

  /** Stage 2: the LLM's parameters and gradients, each one buffer. */
  flatParameters(): FlatParameters[] {
    if (this.stage === 1) return [];
    const { llm } = this.model;
    return [{ values: llm.params.buffer, grads: llm.gradients().buffer, names: [...llm.params.tensors.keys()].map((name) => `llm.${name}`) }];
  }

  zeroGradients(): void {
    for (const g of [...Object.values(this.#projectorGrads), ...(this.#compressorGrads?.values() ?? [])]) fill(g);
    if (this.stage === 2) this.model.llm.zeroGradients();
  }

  async forwardBackward(batch: VqaBatch, context?: StepContext): Promise<{ lossSum: number; count: number }> {
    const { model } = this;
    // The compressor's noise and dropout, seeded by the micro-batch (as stage 0 seeds them).
    const training = this.#compressorGrads && context && { seed: (context.seed * 1_000_003 + context.step * 1009 + context.micro + (context.rank ?? 0) * 7_919_113) % 2 ** 31 };
    const slides = embedSlides(model.compressor, model.projector, batch, model.device, training);
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
    backwardSlideEmbeddings(model.projector, slides, dImage!, this.#projectorGrads, this.#compressorGrads && { model: model.compressor, grads: this.#compressorGrads });
    dImage!.dispose();
    ready?.(Object.keys(this.#projectorGrads).map((key) => `projector.${key}`));
    if (this.#compressorGrads) ready?.([...this.#compressorGrads.keys()].map((name) => `compressor.${name}`));
    return { lossSum: loss, count };
  }

  async saveWeights(dir: string): Promise<void> {
    await saveProjector(join(dir, PROJECTOR_FILE), this.model.projector);
    if (this.stage === 2) await this.model.llm.save(join(dir, LLM_DIR), { copyFrom: this.model.llmPath });
    if (this.#compressorGrads) {
      const named = new Map([...this.model.compressor.params].map(([name, value]) => [`compressor.${name}`, value]));
      await writeTorchStateDict(join(dir, TRAINED_COMPRESSOR_FILE), named, { outer: 'model_state_dict' });
    }
  }

  async loadWeights(dir: string): Promise<void> {
    const { model } = this;
    const loaded = await loadProjector(join(dir, PROJECTOR_FILE), model.llm.config.hidden_size, { device: model.device });
    for (const key of Object.keys(loaded) as (keyof ProjectorWeights)[]) {
      scale(loaded[key], 1, { out: model.projector[key] });
      loaded[key].dispose();
    }
    const compressorFile = join(dir, TRAINED_COMPRESSOR_FILE);
    if (this.#compressorGrads && existsSync(compressorFile)) {
      const trained = await loadCompressor(compressorFile, { device: model.device });
      for (const [name, value] of trained.params) scale(value, 1, { out: model.compressor.params.get(name)! });
      trained.dispose();
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
    for (const g of [...Object.values(this.#projectorGrads), ...(this.#compressorGrads?.values() ?? [])]) g.dispose();
  }
}
