/**
 * Generation with a Qwen3 model: a batch of prompts of different lengths (each with optional
 * slide embeddings spliced in), a KV cache per layer, greedy or sampled decoding, stop tokens,
 * streaming; and log-likelihood scoring of given continuations (multiple choice without
 * generation).
 *
 * The prompts are prefilled together, right-padded, with the training forward's layer (its keys
 * after RMSNorm and RoPE, and its values, copied into the caches); each new token then runs one
 * decode step per layer: its key and value are put at its position in the cache and its query
 * attends over the cache (attention_decode).
 */
import { attentionDecode } from '../attentionOps.js';
import { linearCrossEntropy } from '../crossEntropy.js';
import type { Device } from '../native.js';
import { add, matmul, runOp } from '../ops.js';
import { embedding, putRows, rmsNorm, rope, swiglu } from '../qwen3Ops.js';
import { seededRandom } from '../random.js';
import { IGNORE_LABEL } from '../text/chat.js';
import { Tensor } from '../tensor.js';
import { ActivationArena, valuesAndStats } from './activationArena.js';
import { type LayerContext, layerActivationElements, layerForward, releaseActivations } from './qwen3Layer.js';
import { FINAL_NORM, type Qwen3Model, releaseForward } from './qwen3Model.js';
import { defaultSampling, stopTokens } from './generationConfig.js';
import { type SamplingOptions, sampleToken } from './sampling.js';

/** One prompt: token ids, and embeddings that replace the ids at `rows` (positions in this prompt). */
export interface GenerationPrompt {
  ids: Int32Array;
  image?: { embeds: Tensor; rows: Int32Array };
}

/**
 * Options of {@link generate}. What they leave out comes from the model's
 * `generation_config.json` as transformers takes it: the stop tokens (`eos_token_id`), and with
 * `do_sample` its temperature, top-k and top-p; greedy decoding without one.
 */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens generated per prompt. Default: the generation config's `max_new_tokens`, else 64. */
  maxNewTokens?: number;
  /** Seed of the sampling (per prompt streams, so a prompt's tokens do not depend on its batch). Default 0. */
  seed?: number;
  /** Tokens that end a prompt's answer (kept as its last token). Default: the generation config's eos ids, else config.json's. */
  stopTokens?: readonly number[];
  /** Called with each new token as it is chosen. */
  onToken?: (prompt: number, token: number) => void;
  /** Decode against a KV cache (true, the default) or recompute the whole sequence each step. */
  cache?: boolean;
}

/** The generated tokens of each prompt, the stop token included when one was reached. */
export function generate(model: Qwen3Model, prompts: readonly GenerationPrompt[], options: GenerateOptions = {}): number[][] {
  if (prompts.length === 0) return [];
  prompts.forEach((p, i) => {
    if (p.ids.length === 0) throw new RangeError(`prompts[${i}] has no tokens`);
  });
  const maxNew = options.maxNewTokens ?? model.generationConfig?.max_new_tokens ?? 64;
  const stops = new Set(options.stopTokens ?? stopTokens(model.config, model.generationConfig));
  const sampling: SamplingOptions = { ...defaultSampling(model.generationConfig) };
  for (const key of ['temperature', 'topK', 'topP'] as const) if (options[key] !== undefined) sampling[key] = options[key];
  const randoms = prompts.map((_, i) => seededRandom(options.seed ?? 0, i));
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map(() => maxNew <= 0);
  const choose = (logits: Float32Array[]): number[] =>
    logits.map((row, i) => {
      if (done[i]) return 0;
      const token = sampleToken(row, sampling, randoms[i]);
      out[i].push(token);
      options.onToken?.(i, token);
      if (stops.has(token) || out[i].length >= maxNew) done[i] = true;
      return token;
    });

  if (options.cache === false) {
    while (!done.every(Boolean)) {
      const sequences = prompts.map((p, i) => ({ ...p, ids: Int32Array.from([...p.ids, ...out[i]]) }));
      choose(prefill(model, sequences));
    }
    return out;
  }
  const capacity = Math.max(...prompts.map((p) => p.ids.length)) + maxNew;
  const cache = new KvCache(model, prompts.length, capacity);
  const step = new DecodeScratch(model, prompts.length);
  try {
    let next = choose(prefill(model, prompts, cache));
    const lengths = prompts.map((p) => p.ids.length);
    while (!done.every(Boolean)) {
      next = choose(decodeStep(model, cache, step, next, lengths));
      lengths.forEach((_, i) => lengths[i]++);
    }
    return out;
  } finally {
    cache.dispose();
    step.dispose();
  }
}

/** log p(continuation | prompt), summed over each continuation's tokens. */
export function scoreContinuations(model: Qwen3Model, prompt: GenerationPrompt, continuations: readonly Int32Array[]): number[] {
  const sequences = continuations.map((c) => ({ ...prompt, ids: Int32Array.from([...prompt.ids, ...c]) }));
  const { ids, tokens, seqLens, image } = padBatch(sequences, model.device);
  const state = model.forward({ ids, batch: sequences.length, tokens, seqLens, image }, { recompute: true });
  try {
    // Each token's −log p from the fused cross-entropy, in one pass over the LM head: no logits
    // leave the device, and the log-softmax is the training loss's own.
    const labels = new Int32Array(sequences.length * tokens).fill(IGNORE_LABEL);
    const position = (b: number, j: number) => b * tokens + prompt.ids.length + j - 1;
    continuations.forEach((c, b) => c.forEach((token, j) => (labels[position(b, j)] = token)));
    const { tokenLosses } = linearCrossEntropy(state.hidden, model.lmHead, labels, { hiddenGrad: false, tokenLosses: true });
    return continuations.map((c, b) => c.reduce((sum, _, j) => sum - tokenLosses![position(b, j)], 0));
  } finally {
    releaseForward(state);
    image?.embeds.dispose();
  }
}

/** Per layer, keys and values of every sequence: (B·S, kv_heads·head_dim) each, S the capacity. */
class KvCache {
  readonly keys: Tensor[];
  readonly values: Tensor[];
  constructor(
    model: Qwen3Model,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const width = model.config.num_key_value_heads * model.config.head_dim;
    const make = () => Tensor.zeros([batch * capacity, width], { dtype: model.dtype, device: model.device });
    this.keys = Array.from({ length: model.config.num_hidden_layers }, make);
    this.values = Array.from({ length: model.config.num_hidden_layers }, make);
  }

  /** Copies rows `from` of k and v (N, width) to rows `to` of layer l's caches. */
  put(l: number, k: Tensor, v: Tensor, from: number[], to: number[]): void {
    using source = Tensor.from(Int32Array.from(from), [from.length], { device: k.device });
    using target = Tensor.from(Int32Array.from(to), [to.length], { device: k.device });
    for (const [cache, x] of [[this.keys[l], k], [this.values[l], v]] as const) {
      using picked = Tensor.empty([from.length, x.shape[1]], { dtype: x.dtype, device: x.device });
      runOp('gather_rows', { out: picked, x, index: source });
      putRows(cache, picked, target);
    }
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}

/** Right-pads sequences into one batch; image rows become flat b·T + row indices, their embeddings one tensor. */
function padBatch(sequences: readonly GenerationPrompt[], device: Device) {
  const tokens = Math.max(...sequences.map((s) => s.ids.length));
  const ids = new Int32Array(sequences.length * tokens);
  sequences.forEach((s, b) => ids.set(s.ids, b * tokens));
  const seqLens = Int32Array.from(sequences, (s) => s.ids.length);
  const withImage = sequences.map((s, b) => ({ s, b })).filter(({ s }) => s.image && s.image.rows.length > 0);
  if (withImage.length === 0) return { ids, tokens, seqLens, image: undefined };
  const rows = withImage.flatMap(({ s, b }) => [...s.image!.rows].map((r) => b * tokens + r));
  const first = withImage[0].s.image!.embeds;
  const embeds = Tensor.empty([rows.length, first.shape[1]], { dtype: first.dtype, device });
  let offset = 0;
  for (const { s } of withImage) {
    const count = s.image!.rows.length;
    using index = Tensor.from(Int32Array.from({ length: count }, (_, i) => offset + i), [count], { device });
    putRows(embeds, s.image!.embeds, index);
    offset += count;
  }
  return { ids, tokens, seqLens, image: { embeds, rows: Int32Array.from(rows) } };
}

/** Runs the prompts through every layer (filling `cache` when given) and returns each prompt's next-token logits. */
function prefill(model: Qwen3Model, prompts: readonly GenerationPrompt[], cache?: KvCache): Float32Array[] {
  const { device, config } = model;
  const { ids, tokens, seqLens, image } = padBatch(prompts, device);
  const batch = prompts.length;
  using idsTensor = Tensor.from(ids, [ids.length], { device });
  const ctx: LayerContext = {
    config,
    batch,
    tokens,
    positions: Tensor.from(Int32Array.from({ length: batch * tokens }, (_, i) => i % tokens), [batch, tokens], { device }),
    seqLens: Tensor.from(seqLens, [batch], { device }),
  };
  const kvWidth = config.num_key_value_heads * config.head_dim;
  const valid = prompts.flatMap((p, b) => Array.from({ length: p.ids.length }, (_, t) => b * tokens + t));
  const cacheRows = cache ? prompts.flatMap((p, b) => Array.from({ length: p.ids.length }, (_, t) => b * cache.capacity + t)) : [];
  let x = model.embed(idsTensor, image);
  try {
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const { y, saved } = layerForward(model.layer(l), x, ctx);
      if (cache) {
        using k = saved.kRot.reshape([batch * tokens, kvWidth]);
        cache.put(l, k, saved.v, valid, cacheRows);
      }
      releaseActivations(saved);
      x.dispose();
      x = y;
    }
    const last = prompts.map((p, b) => b * tokens + p.ids.length - 1);
    using finalRows = Tensor.empty([last.length, config.hidden_size], { dtype: x.dtype, device });
    using index = Tensor.from(Int32Array.from(last), [last.length], { device });
    runOp('gather_rows', { out: finalRows, x, index });
    using hidden = normalized(finalRows, model.params.get(FINAL_NORM), config.rms_norm_eps);
    return logitsAt(model, hidden, last.map((_, i) => i));
  } finally {
    x.dispose();
    image?.embeds.dispose();
    ctx.positions.dispose();
    ctx.seqLens.dispose();
  }
}

/**
 * The memory of decode steps, made once per generation: the residual stream of the B new tokens
 * in two buffers (a layer reads one and writes the other) and an arena for one layer's
 * temporaries, reset after each layer — no allocation per layer and token.
 */
class DecodeScratch {
  readonly #residual: Tensor;
  readonly streams: Tensor[];
  readonly arena: ActivationArena;
  constructor(model: Qwen3Model, batch: number) {
    this.#residual = Tensor.empty([2 * batch, model.config.hidden_size], { dtype: model.dtype, device: model.device });
    this.streams = [this.#residual.narrow(0, batch), this.#residual.narrow(batch, 2 * batch)];
    // A training layer's count over B rows covers a decode layer's temporaries (it has no lse and no output here).
    const { values, stats } = layerActivationElements(model.config, batch);
    this.arena = new ActivationArena(model.device, valuesAndStats(model.dtype, values, stats));
  }

  dispose(): void {
    for (const t of [...this.streams, this.#residual]) t.dispose();
    this.arena.dispose();
  }
}

/** One new token per sequence through every layer against the cache; returns the next logits. `lengths` are the tokens already cached. */
function decodeStep(model: Qwen3Model, cache: KvCache, scratch: DecodeScratch, tokens: number[], lengths: number[]): Float32Array[] {
  const { device, config, dtype } = model;
  const [hq, hkv, dh] = [config.num_attention_heads, config.num_key_value_heads, config.head_dim];
  const [width, mlp] = [config.hidden_size, config.intermediate_size];
  const batch = tokens.length;
  const eps = config.rms_norm_eps;
  const { arena, streams } = scratch;
  // Every temporary of a layer is a view of the arena, disposed before the arena is reset.
  const temporaries: Tensor[] = [];
  const take = (shape: readonly number[], type = dtype): Tensor => {
    const t = arena.take(shape, type);
    temporaries.push(t);
    return t;
  };
  const norm = (x: Tensor, weight: Tensor, out: Tensor): Tensor => rmsNorm(x, weight, { eps, out, rstd: take([x.numel / x.shape[x.shape.length - 1]], 'f32') }).out;
  using ids = Tensor.from(Int32Array.from(tokens), [batch], { device });
  using positions = Tensor.from(Int32Array.from(lengths), [batch, 1], { device });
  using cacheRows = Tensor.from(Int32Array.from(lengths, (len, b) => b * cache.capacity + len), [batch], { device });
  using cacheLens = Tensor.from(Int32Array.from(lengths, (len) => len + 1), [batch], { device });
  embedding(model.params.get('model.embed_tokens.weight'), ids, { out: streams[0] });
  try {
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const [x, y] = [streams[l % 2], streams[(l + 1) % 2]];
      const w = model.layer(l);
      const h1 = norm(x, w.inputNorm, take([batch, width]));
      const normRope = (weight: Tensor, heads: number) => {
        const projected = matmul(h1, weight, { transB: true, out: take([batch, heads * dh]) });
        using headRows = projected.reshape([batch * heads, dh]);
        const normed = take([batch, 1, heads, dh]);
        using normedRows = normed.reshape([batch * heads, dh]);
        norm(headRows, heads === hq ? w.qNorm : w.kNorm, normedRows);
        rope(normed, positions, config.rope_theta, { out: normed });
        return normed;
      };
      const q = normRope(w.q, hq);
      const k = normRope(w.k, hkv);
      const v = matmul(h1, w.v, { transB: true, out: take([batch, hkv * dh]) });
      using kRows = k.reshape([batch, hkv * dh]);
      putRows(cache.keys[l], kRows, cacheRows);
      putRows(cache.values[l], v, cacheRows);
      using qHeads = q.reshape([batch, hq, dh]);
      using kCache = cache.keys[l].reshape([batch, cache.capacity, hkv, dh]);
      using vCache = cache.values[l].reshape([batch, cache.capacity, hkv, dh]);
      const attn = attentionDecode(qHeads, kCache, vCache, cacheLens, { out: take([batch, hq, dh]) });
      using attnRows = attn.reshape([batch, hq * dh]);
      const x2 = matmul(attnRows, w.o, { transB: true, out: take([batch, width]) });
      add(x, x2, { out: x2 });
      const h2 = norm(x2, w.postNorm, take([batch, width]));
      const gate = matmul(h2, w.gate, { transB: true, out: take([batch, mlp]) });
      const up = matmul(h2, w.up, { transB: true, out: take([batch, mlp]) });
      const act = swiglu(gate, up, { out: take([batch, mlp]) });
      matmul(act, w.down, { transB: true, out: y });
      add(x2, y, { out: y });
      for (const t of temporaries.splice(0)) t.dispose();
      arena.reset();
    }
    const hidden = norm(streams[config.num_hidden_layers % 2], model.params.get(FINAL_NORM), take([batch, width]));
    return logitsAt(model, hidden, tokens.map((_, i) => i));
  } finally {
    for (const t of temporaries.splice(0)) t.dispose();
    arena.reset();
  }
}

/** RMSNorm without keeping its statistics (inference). */
function normalized(x: Tensor, weight: Tensor, eps: number): Tensor {
  const { out, rstd } = rmsNorm(x, weight, { eps });
  rstd.dispose();
  return out;
}

/** Logits (V) of the given rows of hidden (N, hidden), on the host. */
function logitsAt(model: Qwen3Model, hidden: Tensor, rows: number[]): Float32Array[] {
  const vocab = model.config.vocab_size;
  using index = Tensor.from(Int32Array.from(rows), [rows.length], { device: model.device });
  using picked = Tensor.empty([rows.length, hidden.shape[1]], { dtype: hidden.dtype, device: model.device });
  runOp('gather_rows', { out: picked, x: hidden, index });
  using logits = matmul(picked, model.lmHead, { transB: true, out: Tensor.empty([rows.length, vocab], { device: model.device }) });
  const all = logits.toFloat32();
  return rows.map((_, r) => all.subarray(r * vocab, (r + 1) * vocab));
}

