/**
 * The Qwen3 decoder (Hugging Face `Qwen3ForCausalLM`) over the op table: load and save a model
 * folder, a training forward from token ids with image embeddings spliced in, the fused
 * cross-entropy, and a backward that makes weight gradients (stage 2) or only the gradient of the
 * spliced image rows (stage 1). Generation lives in generate.ts.
 *
 * Parameters sit in one allocation and their f32 gradients in another (ParameterSet).
 */
import type { StoredTensor } from '../io/storedTensor.js';
import type { Device, DType } from '../native.js';
import { linearCrossEntropy } from '../crossEntropy.js';
import { IGNORE_LABEL } from '../text/chat.js';
import { embedding, embeddingBackward, putRows, rmsNorm, rmsNormBackward } from '../qwen3Ops.js';
import { matmul, runOp } from '../ops.js';
import { Tensor } from '../tensor.js';
import { openQwen3Checkpoint } from './checkpoint.js';
import { saveQwen3Checkpoint } from './checkpointSave.js';
import type { WeightDtype } from './checkpoint.js';
import { type GenerationConfig, readGenerationConfig } from './generationConfig.js';
import { ParameterSet } from './parameterSet.js';
import type { Qwen3Config } from './qwen3Config.js';
import { ActivationArena, valuesAndStats } from './activationArena.js';
import { type LayerActivations, type LayerContext, type LayerWeights, layerActivationElements, layerBackward, layerBackwardElements, layerForward, layerWeightNames, releaseActivations } from './qwen3Layer.js';
import { qwen3WeightSpecs } from './qwen3Weights.js';

export const EMBEDDING = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
const LM_HEAD = 'lm_head.weight';

/** A batch for the training forward: B right-padded sequences of T tokens. */
export interface Qwen3Batch {
  /** (B·T) token ids, row-major. */
  ids: Int32Array;
  batch: number;
  tokens: number;
  /** (B) valid tokens per sequence; the rest is padding. Default: all T. */
  seqLens?: Int32Array;
  /** Embeddings that replace the token embeddings of `rows` (flat b·T + t indices): the slide tokens. */
  image?: { embeds: Tensor; rows: Int32Array };
}

/** Options of {@link Qwen3Model.forward}. */
export interface ForwardOptions {
  /** Keep only each layer's input and recompute the layer in backward (less memory, one more forward). Default false. */
  recompute?: boolean;
}

/** What a training forward keeps for its backward. */
export interface ForwardState {
  batch: Qwen3Batch;
  /** (B·T, hidden): the final-norm output, the LM head's input. */
  hidden: Tensor;
  /** Layer inputs (the embeddings first), and per layer its activations unless recomputed. */
  inputs: Tensor[];
  activations: (LayerActivations | undefined)[];
  finalRstd: Tensor;
  ctx: LayerContext;
  ids: Tensor;
  recompute: boolean;
  /** Where the kept activations live (views of its blocks). */
  arena: ActivationArena;
}

export class Qwen3Model {
  readonly config: Qwen3Config;
  readonly params: ParameterSet;
  readonly device: Device;
  readonly dtype: DType;
  /** The folder's `generation_config.json` (stop tokens, sampling defaults), written back whole by {@link save}; undefined when it had none. */
  generationConfig: GenerationConfig | undefined;
  #grads: ParameterSet | undefined;
  readonly #layers: LayerWeights[];

  private constructor(config: Qwen3Config, params: ParameterSet) {
    this.config = config;
    this.params = params;
    this.device = params.buffer.device;
    this.dtype = params.buffer.dtype;
    this.#layers = Array.from({ length: config.num_hidden_layers }, (_, i) => this.#layerViews(params, i));
  }

  /**
   * From a Hugging Face model folder; weights converted to `dtype` (default f32 on the CPU, bf16
   * on CUDA). The folder is checked whole first (names, shapes, dtypes), then read one tensor at
   * a time straight into the parameter buffer, so host memory holds the model once plus one
   * stored tensor (a 4B checkpoint never needs twice its size).
   */
  static async load(dir: string, options: { device?: Device; dtype?: DType } = {}): Promise<Qwen3Model> {
    const reader = await openQwen3Checkpoint(dir);
    try {
      const params = Qwen3Model.#allocate(reader.config, options);
      try {
        for await (const [name, stored] of reader.tensors()) params.load(name, stored, dir);
      } catch (error) {
        params.dispose();
        throw error;
      }
      const model = new Qwen3Model(reader.config, params);
      model.generationConfig = await readGenerationConfig(dir);
      return model;
    } finally {
      await reader.close();
    }
  }

  static #allocate(config: Qwen3Config, options: { device?: Device; dtype?: DType }): ParameterSet {
    const device = options.device ?? 'cpu';
    const dtype = options.dtype ?? (device === 'cpu' ? 'f32' : 'bf16');
    return ParameterSet.allocate(qwen3WeightSpecs(config), { dtype, device });
  }

  /** From a config and host weights by Hugging Face name (checked by name and shape). */
  static fromWeights(config: Qwen3Config, weights: ReadonlyMap<string, StoredTensor>, options: { device?: Device; dtype?: DType; source?: string } = {}): Qwen3Model {
    const specs = qwen3WeightSpecs(config);
    const params = Qwen3Model.#allocate(config, options);
    const source = options.source ?? 'weights';
    try {
      for (const { name, shape } of specs) {
        const stored = weights.get(name);
        if (!stored) throw new RangeError(`${source}: weight ${name} is missing`);
        if (stored.shape.length !== shape.length || stored.shape.some((d, i) => d !== shape[i])) {
          throw new RangeError(`${source}: weight ${name} has shape [${stored.shape}], expected [${shape}]`);
        }
        params.load(name, stored, source);
      }
    } catch (error) {
      params.dispose();
      throw error;
    }
    return new Qwen3Model(config, params);
  }

  /**
   * Writes a Hugging Face model folder (loadable by transformers) in `dtype` (default: the
   * parameters' own dtype, so nothing is rounded); tokenizer files copied from `copyFrom`; the
   * generation config the model was loaded with (else `copyFrom`'s, else config.json's ids).
   */
  async save(dir: string, options: { copyFrom?: string; dtype?: WeightDtype; overwrite?: boolean } = {}): Promise<void> {
    const weights = new Map(
      [...this.params.tensors].map(([name, t]) => [name, { dtype: 'F32' as const, shape: [...t.shape], data: () => t.toFloat32() }]),
    );
    await saveQwen3Checkpoint(dir, { config: this.config, weights, dtype: options.dtype ?? (this.dtype === 'bf16' || this.dtype === 'f16' ? this.dtype : 'f32'), copyFrom: options.copyFrom, overwrite: options.overwrite, generationConfig: this.generationConfig });
  }

  /** The parameters by Hugging Face name (views of one buffer, in the model's dtype). */
  parameters(): ParameterSet {
    return this.params;
  }

  /** f32 gradients by parameter name (zeros, allocated on first use). */
  gradients(): ParameterSet {
    this.#grads ??= ParameterSet.allocate(qwen3WeightSpecs(this.config), { dtype: 'f32', device: this.device, zero: true });
    return this.#grads;
  }

  zeroGradients(): void {
    this.#grads?.zero();
  }

  /** The LM head: its own weight, or the embedding when tied. */
  get lmHead(): Tensor {
    return this.params.get(this.config.tie_word_embeddings ? EMBEDDING : LM_HEAD);
  }

  /** Token embeddings (B·T, hidden) with the image rows replaced; `out` is written into when given. */
  embed(ids: Tensor, image?: { embeds: Tensor; rows: Int32Array }, out?: Tensor): Tensor {
    const x = embedding(this.params.get(EMBEDDING), ids, { out });
    if (image && image.rows.length > 0) {
      using rows = Tensor.from(image.rows, [image.rows.length], { device: this.device });
      putRows(x, image.embeds, rows);
    }
    return x;
  }

  /** The training forward: the final hidden states (B·T, hidden) and what backward needs. */
  forward(batch: Qwen3Batch, options: ForwardOptions = {}): ForwardState {
    const { batch: b, tokens: t } = batch;
    if (batch.ids.length !== b * t) throw new RangeError(`ids has ${batch.ids.length} entries, expected batch ${b} × tokens ${t}`);
    const seqLens = batch.seqLens ?? new Int32Array(b).fill(t);
    const ids = Tensor.from(batch.ids, [b * t], { device: this.device });
    const ctx: LayerContext = {
      config: this.config,
      batch: b,
      tokens: t,
      positions: Tensor.from(Int32Array.from({ length: b * t }, (_, i) => i % t), [b, t], { device: this.device }),
      seqLens: Tensor.from(seqLens, [b], { device: this.device }),
    };
    const recompute = options.recompute ?? false;
    const arena = this.#activationArena(b * t, recompute);
    const take = arena.allocate;
    const width = this.config.hidden_size;
    const inputs: Tensor[] = [this.embed(ids, batch.image, take([b * t, width], this.dtype))];
    const activations: (LayerActivations | undefined)[] = [];
    for (const layer of this.#layers) {
      if (recompute) {
        // Only the layer's output is kept; its activations live in a scratch arena for the layer's duration.
        const scratch = this.#layerArena(b * t);
        const { y, saved } = layerForward(layer, inputs.at(-1)!, ctx, scratch.allocate, take);
        releaseActivations(saved);
        scratch.dispose();
        activations.push(undefined);
        inputs.push(y);
      } else {
        const { y, saved } = layerForward(layer, inputs.at(-1)!, ctx, take);
        activations.push(saved);
        inputs.push(y);
      }
    }
    const { out: hidden, rstd: finalRstd } = rmsNorm(inputs.at(-1)!, this.params.get(FINAL_NORM), {
      eps: this.config.rms_norm_eps,
      out: take([b * t, width], this.dtype),
      rstd: take([b * t], 'f32'),
    });
    return { batch, hidden, inputs, activations, finalRstd, ctx, ids, recompute, arena };
  }

  /**
   * Summed next-token cross-entropy of the forward's hidden states against `labels` (B·T,
   * unshifted: position t's logits predict labels[t + 1], as Hugging Face shifts them), and
   * dHidden for `gradScale`·loss. The LM-head gradient is added to the gradients when `headGrad`.
   */
  loss(state: ForwardState, labels: Int32Array, options: { gradScale?: number; headGrad?: boolean } = {}): { loss: number; count: number; dHidden: Tensor } {
    const { batch: b, tokens: t } = state.batch;
    if (labels.length !== b * t) throw new RangeError(`labels has ${labels.length} entries, expected ${b * t}`);
    const shifted = new Int32Array(b * t).fill(IGNORE_LABEL);
    for (let s = 0; s < b; s++) shifted.set(labels.subarray(s * t + 1, (s + 1) * t), s * t);
    const headGrad = options.headGrad ? this.gradients().get(this.config.tie_word_embeddings ? EMBEDDING : LM_HEAD) : undefined;
    const { loss, count, dHidden } = linearCrossEntropy(state.hidden, this.lmHead, shifted, { gradScale: options.gradScale, weightGrad: headGrad });
    return { loss, count, dHidden: dHidden! };
  }

  /**
   * Logits for inference, with no training state to manage: (N, vocab) f32 on the model's
   * device, row i predicting the token after flat position `rows[i]` (b·T + t) of the batch;
   * every B·T position when `rows` is absent (mind the size: N × 151 936 floats). The caller
   * disposes the tensor.
   */
  logits(batch: Qwen3Batch, options: { rows?: Int32Array | readonly number[] } = {}): Tensor {
    const positions = batch.batch * batch.tokens;
    const rows = options.rows === undefined ? undefined : Int32Array.from(options.rows);
    rows?.forEach((row, i) => {
      if (!(Number.isInteger(row) && row >= 0 && row < positions)) throw new RangeError(`rows[${i}] = ${row} is outside the batch's ${positions} positions`);
    });
    const state = this.forward(batch, { recompute: true });
    let picked: Tensor | undefined;
    try {
      if (rows) {
        using index = Tensor.from(rows, [rows.length], { device: this.device });
        picked = Tensor.empty([rows.length, this.config.hidden_size], { dtype: state.hidden.dtype, device: this.device });
        runOp('gather_rows', { out: picked, x: state.hidden, index });
      }
      const hidden = picked ?? state.hidden;
      return matmul(hidden, this.lmHead, { transB: true, out: Tensor.empty([hidden.shape[0], this.config.vocab_size], { device: this.device }) });
    } finally {
      picked?.dispose();
      releaseForward(state);
    }
  }

  /**
   * Backward from dHidden (B·T, hidden). With `weightGradients` every weight gradient is added
   * (stage 2); without, no weight-gradient GEMM runs (stage 1). Returns the gradient of the
   * image rows (P, hidden) when the batch had them. Releases the forward state. `gradientsReady`
   * hears the names of the weight gradients as each is final (the LM head's and the final norm's
   * first, then layer by layer downwards, the embedding's last), for a data-parallel run to start
   * summing them.
   */
  backward(state: ForwardState, dHidden: Tensor, options: { weightGradients: boolean; gradientsReady?: (names: string[]) => void }): { dImage?: Tensor } {
    const grads = options.weightGradients ? this.gradients() : undefined;
    const ready = grads ? options.gradientsReady : undefined;
    const tokens = state.batch.batch * state.batch.tokens;
    const layers = this.#layers.length;
    // The gradient flowing down the residual stream alternates between two buffers; each layer's
    // temporaries (and, with recompute, its rerun forward) live in arenas reset after the layer.
    const carry = new ActivationArena(this.device, { [this.dtype]: 2 * tokens * this.config.hidden_size });
    const streams = [0, 1].map(() => carry.take([tokens, this.config.hidden_size], this.dtype));
    const backward = layerBackwardElements(this.config, tokens);
    const scratch = new ActivationArena(this.device, valuesAndStats(this.dtype, backward.values, backward.stats));
    const rerun = state.recompute ? this.#layerArena(tokens) : undefined;
    try {
      let dy = rmsNormBackward(state.inputs.at(-1)!, this.params.get(FINAL_NORM), state.finalRstd, dHidden, {
        dWeight: grads?.get(FINAL_NORM),
        dx: streams[layers % 2],
      });
      ready?.(this.config.tie_word_embeddings ? [FINAL_NORM] : [FINAL_NORM, LM_HEAD]);
      for (let i = layers - 1; i >= 0; i--) {
        let saved = state.activations[i];
        if (!saved) {
          const recomputed = layerForward(this.#layers[i], state.inputs[i], state.ctx, rerun!.allocate);
          recomputed.y.dispose();
          saved = recomputed.saved;
        }
        dy = layerBackward(this.#layers[i], saved, dy, state.ctx, grads ? this.#layerViews(grads, i) : undefined, {
          allocate: scratch.allocate,
          dx: streams[i % 2],
        });
        ready?.(Object.values(layerWeightNames(i)));
        scratch.reset();
        rerun?.reset();
      }
      let dImage: Tensor | undefined;
      const image = state.batch.image;
      if (image && image.rows.length > 0) {
        using rows = Tensor.from(image.rows, [image.rows.length], { device: this.device });
        dImage = Tensor.empty([image.rows.length, this.config.hidden_size], { dtype: dy.dtype, device: this.device });
        runOp('gather_rows', { out: dImage, x: dy, index: rows });
      }
      if (grads) {
        // The image rows' embeddings were replaced: their token (the image pad) gets no gradient.
        const ids = Int32Array.from(state.batch.ids);
        for (const row of image?.rows ?? []) ids[row] = -1;
        using idsTensor = Tensor.from(ids, [ids.length], { device: this.device });
        embeddingBackward(dy, idsTensor, grads.get(EMBEDDING));
        ready?.([EMBEDDING]);
      }
      return { dImage };
    } finally {
      for (const t of streams) t.dispose();
      for (const arena of [carry, scratch, rerun]) arena?.dispose();
      releaseForward(state);
    }
  }

  /**
   * Forward, loss and backward of one micro-batch: the summed loss and its labelled-token count,
   * and the image rows' gradient when the batch has image rows. With `weightGradients` (stage 2)
   * every weight gradient, the LM head's included, is added to {@link gradients}; without
   * (stage 1) none is touched. `gradScale` (default 1) scales every gradient, e.g. 1 / the
   * labelled tokens of the whole optimizer step.
   */
  trainStep(
    batch: Qwen3Batch,
    labels: Int32Array,
    options: { weightGradients: boolean; recompute?: boolean; gradScale?: number },
  ): { loss: number; count: number; dImage?: Tensor } {
    const state = this.forward(batch, { recompute: options.recompute });
    let dHidden: Tensor | undefined;
    try {
      const result = this.loss(state, labels, { gradScale: options.gradScale, headGrad: options.weightGradients });
      dHidden = result.dHidden;
      const { dImage } = this.backward(state, dHidden, { weightGradients: options.weightGradients });
      return { loss: result.loss, count: result.count, dImage };
    } finally {
      dHidden?.dispose();
      releaseForward(state);
    }
  }

  /**
   * The arena of a training forward over `tokens` = B·T rows: the embeddings, every layer's
   * activations (or, with `recompute`, only its output) and the final norm, sized to fit in one
   * block of the model's dtype and one of f32.
   */
  #activationArena(tokens: number, recompute: boolean): ActivationArena {
    const { hidden_size: width, num_hidden_layers: layers } = this.config;
    const perLayer = layerActivationElements(this.config, tokens);
    // Embeddings and final-norm output, plus per layer its output (recompute) or everything (its output included).
    const values = tokens * width * 2 + layers * (recompute ? tokens * width : perLayer.values);
    const stats = tokens + (recompute ? 0 : layers * perLayer.stats);
    return new ActivationArena(this.device, valuesAndStats(this.dtype, values, stats));
  }

  /** Scratch for one layer's activations (recomputation). */
  #layerArena(tokens: number): ActivationArena {
    const { values, stats } = layerActivationElements(this.config, tokens);
    return new ActivationArena(this.device, valuesAndStats(this.dtype, values, stats));
  }

  /** Layer i's weights, by role. */
  layer(i: number): LayerWeights {
    return this.#layers[i];
  }

  #layerViews(set: ParameterSet, i: number): LayerWeights {
    const names = layerWeightNames(i);
    return Object.fromEntries(Object.entries(names).map(([role, name]) => [role, set.get(name)])) as unknown as LayerWeights;
  }

  dispose(): void {
    this.params.dispose();
    this.#grads?.dispose();
  }
}

/** Releases a forward state's tensors (idempotent). */
export function releaseForward(state: ForwardState): void {
  for (const saved of state.activations) if (saved) releaseActivations(saved);
  for (const t of [state.hidden, state.finalRstd, state.ids, state.ctx.positions, state.ctx.seqLens, ...state.inputs]) t.dispose();
  state.arena.dispose();
}
