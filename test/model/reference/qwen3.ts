/**
 * An independent float64 Qwen3 forward written from DESIGN.md §2 and transformers'
 * modeling_qwen3.py, plainly, for tiny configs: the loss the model's ops must match.
 */
import type { Qwen3Config } from '../../../lib/model/qwen3Config.js';

export type Weights = Map<string, Float64Array>;

function linear(x: Float64Array, w: Float64Array, rows: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) {
    let s = 0;
    for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
    y[r * outF + o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float64Array, d: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[r * d + i] ** 2;
    const rstd = 1 / Math.sqrt(s / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * rstd * w[i];
  }
  return y;
}

/** Rotate-half RoPE at position pos of one head vector (in place), angles as transformers computes them in f32. */
function rope(v: Float64Array, offset: number, d: number, pos: number, theta: number): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / d))));
    const angle = Math.fround(pos * invFreq);
    const [a, b] = [v[offset + i], v[offset + i + half]];
    v[offset + i] = a * Math.cos(angle) - b * Math.sin(angle);
    v[offset + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
  }
}

/**
 * Final hidden states (B·T, hidden) for ids (B·T) with right padding by seqLens, image rows
 * replaced by `image` (P, hidden).
 */
export function referenceHidden(config: Qwen3Config, w: Weights, ids: Int32Array, batch: number, tokens: number, seqLens: Int32Array, image?: { embeds: Float64Array; rows: Int32Array }): Float64Array {
  const { hidden_size: h, head_dim: dh, num_attention_heads: hq, num_key_value_heads: hkv, intermediate_size: f, rms_norm_eps: eps } = config;
  const n = batch * tokens;
  let x = new Float64Array(n * h);
  const table = w.get('model.embed_tokens.weight')!;
  for (let r = 0; r < n; r++) x.set(table.subarray(ids[r] * h, (ids[r] + 1) * h), r * h);
  image?.rows.forEach((row, p) => x.set(image.embeds.subarray(p * h, (p + 1) * h), row * h));
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = (name: string) => w.get(`model.layers.${l}.${name}`)!;
    const h1 = rmsNorm(x, p('input_layernorm.weight'), h, eps);
    const q = rmsNorm(linear(h1, p('self_attn.q_proj.weight'), n, h, hq * dh), p('self_attn.q_norm.weight'), dh, eps);
    const k = rmsNorm(linear(h1, p('self_attn.k_proj.weight'), n, h, hkv * dh), p('self_attn.k_norm.weight'), dh, eps);
    const v = linear(h1, p('self_attn.v_proj.weight'), n, h, hkv * dh);
    for (let r = 0; r < n; r++) {
      for (let head = 0; head < hq; head++) rope(q, (r * hq + head) * dh, dh, r % tokens, config.rope_theta);
      for (let head = 0; head < hkv; head++) rope(k, (r * hkv + head) * dh, dh, r % tokens, config.rope_theta);
    }
    const attn = new Float64Array(n * hq * dh);
    for (let b = 0; b < batch; b++) for (let t = 0; t < seqLens[b]; t++) for (let head = 0; head < hq; head++) {
      const kvHead = Math.floor(head / (hq / hkv));
      const qOff = ((b * tokens + t) * hq + head) * dh;
      const scores: number[] = [];
      for (let j = 0; j <= t; j++) {
        const kOff = ((b * tokens + j) * hkv + kvHead) * dh;
        let s = 0;
        for (let i = 0; i < dh; i++) s += q[qOff + i] * k[kOff + i];
        scores.push(s / Math.sqrt(dh));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j <= t; j++) {
        const vOff = ((b * tokens + j) * hkv + kvHead) * dh;
        for (let i = 0; i < dh; i++) attn[qOff + i] += (e[j] / z) * v[vOff + i];
      }
    }
    const x2 = linear(attn, p('self_attn.o_proj.weight'), n, hq * dh, h).map((val, i) => val + x[i]);
    const h2 = rmsNorm(x2, p('post_attention_layernorm.weight'), h, eps);
    const gate = linear(h2, p('mlp.gate_proj.weight'), n, h, f);
    const up = linear(h2, p('mlp.up_proj.weight'), n, h, f);
    const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
    x = linear(act, p('mlp.down_proj.weight'), n, f, h).map((val, i) => val + x2[i]);
  }
  return rmsNorm(x, w.get('model.norm.weight')!, h, eps);
}

/** Σ next-token cross-entropy over labelled positions (labels unshifted, -100 ignored), and the count. */
export function referenceLoss(config: Qwen3Config, w: Weights, hidden: Float64Array, labels: Int32Array, batch: number, tokens: number): { loss: number; count: number } {
  const h = config.hidden_size;
  const head = w.get(config.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!;
  const vocab = config.vocab_size;
  let loss = 0;
  let count = 0;
  for (let b = 0; b < batch; b++) for (let t = 0; t + 1 < tokens; t++) {
    const label = labels[b * tokens + t + 1];
    if (label === -100) continue;
    const row = hidden.subarray((b * tokens + t) * h, (b * tokens + t + 1) * h);
    let max = -Infinity;
    const logits = new Float64Array(vocab);
    for (let v = 0; v < vocab; v++) {
      let s = 0;
      for (let i = 0; i < h; i++) s += row[i] * head[v * h + i];
      logits[v] = s;
      if (s > max) max = s;
    }
    let z = 0;
    for (let v = 0; v < vocab; v++) z += Math.exp(logits[v] - max);
    loss += Math.log(z) + max - logits[label];
    count++;
  }
  return { loss, count };
}
