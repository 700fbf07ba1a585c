/**
 * The MoE token compressor, compatible with TC-SSA's `MoE_Compressor` state dict:
 * a ragged batch of slides' patch features (N, D) → K slot tokens per slide (S, K, D).
 *
 *   logits = x·Wgᵀ + bg → moe_route (noisy softmax in training, top-k, Switch aux loss)
 *   → moe_slot_mean (weighted mean per slide and slot) → expert k on slot k:
 *     y_k = c_k + LayerNorm(W2ₖ·Dropout(GELU(W1ₖ·c_k + b1ₖ)) + b2ₖ)
 *
 * Forward and backward are written over the op table, so they run on the CPU or CUDA alike.
 */
import { dropout, geluBackward, layerNormBackward } from './layers.js';
import { add, linearBackward, matmul, runOp } from './ops.js';
import type { Device, DType } from './tensor.js';
import { Tensor } from './tensor.js';

/** One entry of a state dict from plain JavaScript: row-major values and a shape. */
export interface StateRecord {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export interface MoeCompressorOptions {
  /** Slots each patch is routed to (1 for older checkpoints). Default 2. */
  topK?: number;
  /** σ of the Gaussian noise on the gate logits in training. Default 0.1 (TC-SSA's). */
  noise?: number;
  /** Dropout after the experts' GELU in training. Default 0.25 (TC-SSA's). */
  dropout?: number;
  /** LayerNorm epsilon. Default 1e-5 (PyTorch's). */
  eps?: number;
}

/** Per call of {@link MoeCompressor.forward}. */
export interface CompressOptions {
  /** Noise and dropout on, and the saved state for backward kept. Default false. */
  training?: boolean;
  /** Seed of the noise and dropout (counter-based: any backend gives the same). Default 0. */
  seed?: number;
}

/** The experts' activations, stacked over slots: one allocation each for all K experts. */
export interface ExpertActivations {
  /** fc1 output before GELU (K, S, hidden). */
  pre: Tensor;
  /** GELU output after dropout (K, S, hidden). */
  act: Tensor;
  /** fc2 output, LayerNorm's input (K, S, D). */
  h2: Tensor;
  /** LayerNorm statistics (K·S). */
  mean: Tensor;
  rstd: Tensor;
}

/** What a forward keeps for its backward; owned by the compressor until backward or dispose. */
export interface CompressSaved {
  x: Tensor;
  /** The gate's logits (N, K) before the noise: for losses on them (a router z-loss). */
  logits: Tensor;
  offsets: Tensor;
  probs: Tensor;
  slotLoad: Tensor;
  weights: Tensor;
  slots: Tensor;
  denom: Tensor;
  experts: ExpertActivations;
  seed: number;
  training: boolean;
}

const KEY = {
  gateWeight: 'gate.weight',
  gateBias: 'gate.bias',
  expert: (k: number, part: string) => `experts.${k}.net.${part}`,
};

/** Slot e of a slot-major (K, S, C) tensor, as an (S, C) view. */
function slotOf(t: Tensor, e: number): Tensor {
  using row = t.narrow(e, e + 1);
  return row.reshape(t.shape.slice(1));
}

/** Seed of expert k's dropout mask, derived from the call's seed. */
function expertSeed(seed: number, k: number): number {
  return (seed * 65537 + 7919 * (k + 1)) % 2 ** 52;
}

export class MoeCompressor {
  /** Parameters by their TC-SSA names (no prefix). */
  readonly params: Map<string, Tensor>;
  readonly slots: number;
  readonly width: number;
  readonly topK: number;
  readonly noise: number;
  readonly dropoutP: number;
  readonly eps: number;

  /** From parameters named as in TC-SSA (`gate.weight`, `experts.{k}.net.{0,3,4}.{weight,bias}`). */
  constructor(params: Map<string, Tensor>, options: MoeCompressorOptions = {}) {
    const gate = params.get(KEY.gateWeight);
    if (!gate) throw new RangeError(`the compressor needs '${KEY.gateWeight}'`);
    this.params = params;
    [this.slots, this.width] = gate.shape;
    for (let k = 0; k < this.slots; k++) {
      for (const part of ['0.weight', '0.bias', '3.weight', '3.bias', '4.weight', '4.bias']) {
        if (!params.has(KEY.expert(k, part))) throw new RangeError(`the compressor needs '${KEY.expert(k, part)}' (${this.slots} slots)`);
      }
    }
    this.topK = options.topK ?? 2;
    this.noise = options.noise ?? 0.1;
    this.dropoutP = options.dropout ?? 0.25;
    this.eps = options.eps ?? 1e-5;
  }

  /**
   * From a state dict of plain records, keys optionally under a prefix (`moe.gate.weight`);
   * the prefix is found from the key ending in `gate.weight`. Other keys are ignored.
   */
  static fromStateDict(state: Record<string, StateRecord>, options: MoeCompressorOptions & { device?: Device; dtype?: DType } = {}): MoeCompressor {
    const gateKey = Object.keys(state).find((key) => key === KEY.gateWeight || key.endsWith(`.${KEY.gateWeight}`));
    if (!gateKey) throw new RangeError(`no '${KEY.gateWeight}' in the state dict (keys: ${Object.keys(state).slice(0, 8).join(', ')}…)`);
    const prefix = gateKey.slice(0, gateKey.length - KEY.gateWeight.length);
    const params = new Map<string, Tensor>();
    for (const [key, record] of Object.entries(state)) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length);
      if (name.startsWith('gate.') || name.startsWith('experts.')) {
        params.set(name, Tensor.from(Float64Array.from(record.data), record.shape, { dtype: options.dtype ?? 'f32', device: options.device }));
      }
    }
    return new MoeCompressor(params, options);
  }

  #p(name: string): Tensor {
    return this.params.get(name)!;
  }

  /**
   * Compresses x (N, D), the patches of S slides concatenated, with offsets (S + 1) on the host
   * (slide s owns rows offsets[s] .. offsets[s+1]). Returns (S, K, D) f32, the load-balancing
   * auxiliary loss, and in training the state {@link backward} needs.
   */
  forward(x: Tensor, offsets: Int32Array | readonly number[], options: CompressOptions = {}): { out: Tensor; auxLoss: number; saved?: CompressSaved } {
    const training = options.training ?? false;
    const seed = options.seed ?? 0;
    const [n, width] = x.shape;
    const slides = offsets.length - 1;
    if (width !== this.width) throw new RangeError(`patch features are ${width}-d but the compressor takes ${this.width}-d`);
    for (let s = 0; s < slides; s++) {
      if (!(offsets[s + 1] > offsets[s])) throw new RangeError(`slide ${s} has no patches (offsets ${offsets[s]} .. ${offsets[s + 1]})`);
    }
    if (slides < 1 || offsets[0] !== 0 || offsets[slides] !== n) throw new RangeError(`offsets must run from 0 to ${n} over at least one slide`);
    const device = x.device;
    const k = this.slots;
    const f32 = (shape: number[]): Tensor => Tensor.empty(shape, { device });
    const offsetsTensor = Tensor.from(Int32Array.from(offsets), [slides + 1], { device });
    const logits = matmul(x, this.#p(KEY.gateWeight), { transB: true, bias: this.#p(KEY.gateBias), out: f32([n, k]) });
    const probs = f32([n, k]), weights = f32([n, k]), slotLoad = f32([k]), slotProb = f32([k]), aux = f32([1]);
    try {
      // offsets: a non-finite gate logit is a FormatError naming its slide.
      runOp('moe_route', { probs, weights, slotLoad, slotProb, auxLoss: aux, logits, offsets: offsetsTensor, topK: this.topK, noise: training ? this.noise : 0, seed });
    } catch (error) {
      for (const t of [offsetsTensor, probs, weights, slotLoad, aux, logits]) t.dispose();
      throw error;
    } finally {
      slotProb.dispose();
    }
    // Training keeps the gate logits: the routing losses' z-term reads them.
    if (!training) logits.dispose();
    const slots = f32([k, slides, width]), denom = f32([k, slides]);
    runOp('moe_slot_mean', { slots, denom, x, weights, offsets: offsetsTensor });
    const hidden = this.#p(KEY.expert(0, '0.weight')).shape[0];
    const experts: ExpertActivations = {
      pre: f32([k, slides, hidden]),
      act: f32([k, slides, hidden]),
      h2: f32([k, slides, width]),
      mean: f32([k * slides]),
      rstd: f32([k * slides]),
    };
    const z = f32([k, slides, width]);
    for (let e = 0; e < k; e++) {
      const [c, zE] = [slotOf(slots, e), slotOf(z, e)];
      const [pre, act, h2] = [slotOf(experts.pre, e), slotOf(experts.act, e), slotOf(experts.h2, e)];
      const [mean, rstd] = [experts.mean.narrow(e * slides, (e + 1) * slides), experts.rstd.narrow(e * slides, (e + 1) * slides)];
      runOp('matmul_bias_gelu', { out: act, pre, a: c, weight: this.#p(KEY.expert(e, '0.weight')), bias: this.#p(KEY.expert(e, '0.bias')) });
      if (training && this.dropoutP > 0) dropout(act, this.dropoutP, expertSeed(seed, e), { out: act });
      matmul(act, this.#p(KEY.expert(e, '3.weight')), { transB: true, bias: this.#p(KEY.expert(e, '3.bias')), out: h2 });
      runOp('layer_norm', { out: zE, mean, rstd, x: h2, weight: this.#p(KEY.expert(e, '4.weight')), bias: this.#p(KEY.expert(e, '4.bias')), eps: this.eps });
      add(c, zE, { out: zE });
      for (const t of [c, zE, pre, act, h2, mean, rstd]) t.dispose();
    }
    if (!training) for (const t of Object.values(experts)) t.dispose();
    const out = f32([slides, k, width]);
    runOp('swap_axes01', { out, x: z });
    z.dispose();
    const auxLoss = aux.toFloat32()[0];
    aux.dispose();
    if (!training) {
      for (const t of [offsetsTensor, probs, weights, slotLoad, slots, denom]) t.dispose();
      return { out, auxLoss };
    }
    return { out, auxLoss, saved: { x, logits, offsets: offsetsTensor, probs, slotLoad, weights, slots, denom, experts, seed, training } };
  }

  /**
   * Backward of a training forward: dOut (S, K, D) and the gradient of the auxiliary loss
   * (its weight in the total loss). Parameter gradients accumulate (+=) into `grads` (by
   * parameter name, zeros created when missing); returns dx (N, D) f32. Disposes `saved`.
   * `dLogits` (N, K), when given, is the gradient of further losses on the gate's logits (e.g.
   * per-slide routing losses computed by the caller from `saved.probs` and `saved.logits`).
   */
  backward(saved: CompressSaved, dOut: Tensor, auxGrad: number, grads: Map<string, Tensor>, dLogits?: Tensor): Tensor {
    const [slides, k, width] = dOut.shape;
    const device = dOut.device;
    const grad = (name: string): Tensor => {
      let g = grads.get(name);
      if (!g) grads.set(name, (g = Tensor.zeros(this.#p(name).shape, { dtype: this.#p(name).dtype, device })));
      return g;
    };
    const dz = Tensor.empty([k, slides, width], { device });
    runOp('swap_axes01', { out: dz, x: dOut });
    const acts = saved.experts;
    for (let e = 0; e < k; e++) {
      const [c, dzE] = [slotOf(saved.slots, e), slotOf(dz, e)]; // dzE becomes dslots[e]: residual + expert path
      const [pre, act, h2] = [slotOf(acts.pre, e), slotOf(acts.act, e), slotOf(acts.h2, e)];
      const norm = { mean: acts.mean.narrow(e * slides, (e + 1) * slides), rstd: acts.rstd.narrow(e * slides, (e + 1) * slides) };
      const dH2 = layerNormBackward(h2, this.#p(KEY.expert(e, '4.weight')), norm, dzE, { dWeight: grad(KEY.expert(e, '4.weight')), dBias: grad(KEY.expert(e, '4.bias')) });
      const fc2 = linearBackward(act, this.#p(KEY.expert(e, '3.weight')), dH2, { bias: true, accumulateInto: { dWeight: grad(KEY.expert(e, '3.weight')), dBias: grad(KEY.expert(e, '3.bias')) } });
      if (saved.training && this.dropoutP > 0) dropout(fc2.dx, this.dropoutP, expertSeed(saved.seed, e), { out: fc2.dx });
      geluBackward(pre, fc2.dx, { out: fc2.dx });
      const fc1 = linearBackward(c, this.#p(KEY.expert(e, '0.weight')), fc2.dx, { bias: true, accumulateInto: { dWeight: grad(KEY.expert(e, '0.weight')), dBias: grad(KEY.expert(e, '0.bias')) } });
      add(dzE, fc1.dx, { out: dzE });
      for (const t of [c, dzE, pre, act, h2, norm.mean, norm.rstd, dH2, fc2.dx, fc1.dx]) t.dispose();
    }
    for (const t of Object.values(acts)) t.dispose();
    const [n] = saved.x.shape;
    const dx = Tensor.empty([n, width], { device });
    const dWeights = Tensor.empty([n, k], { device });
    runOp('moe_slot_mean_backward', { dx, dweights: dWeights, dslots: dz, slots: saved.slots, denom: saved.denom, x: saved.x, weights: saved.weights, offsets: saved.offsets });
    const dGate = Tensor.empty([n, k], { device });
    runOp('moe_route_backward', { dlogits: dGate, probs: saved.probs, dweights: dWeights, slotLoad: saved.slotLoad, topK: this.topK, auxGrad });
    if (dLogits) add(dGate, dLogits, { out: dGate });
    const gate = linearBackward(saved.x, this.#p(KEY.gateWeight), dGate, { bias: true, accumulateInto: { dWeight: grad(KEY.gateWeight), dBias: grad(KEY.gateBias) } });
    add(dx, gate.dx, { out: dx });
    for (const t of [dz, dWeights, dGate, gate.dx, saved.logits, saved.offsets, saved.probs, saved.slotLoad, saved.weights, saved.slots, saved.denom]) t.dispose();
    return dx;
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}
