/**
 * Float64 references of the attention ops, written as plainly as possible (see
 * native/include/wsi/ops/attention.h for the math and layout).
 *
 * q (B, T, Hq, D), k and v (B, T, Hkv, D), lse (B, Hq, T); seqLens (B) or none; scale 0 means 1/√D.
 */

export interface AttentionDims {
  batch: number;
  tokens: number;
  qHeads: number;
  kvHeads: number;
  dim: number;
}

export interface AttentionOptions {
  seqLens?: ArrayLike<number>;
  causal?: boolean;
  scale?: number;
}

function resolve(dims: AttentionDims, options: AttentionOptions) {
  const { batch, tokens, qHeads, kvHeads, dim } = dims;
  const scale = options.scale ? options.scale : 1 / Math.sqrt(dim);
  const causal = options.causal ?? true;
  const group = qHeads / kvHeads;
  const length = (b: number) => (options.seqLens ? Math.min(Math.max(options.seqLens[b], 0), tokens) : tokens);
  const qRow = (b: number, t: number, h: number) => ((b * tokens + t) * qHeads + h) * dim;
  const kvRow = (b: number, t: number, h: number) => ((b * tokens + t) * kvHeads + h) * dim;
  const stat = (b: number, h: number, t: number) => (b * qHeads + h) * tokens + t;
  const keyEnd = (i: number, len: number) => (causal ? Math.min(i + 1, len) : len);
  return { batch, tokens, qHeads, dim, scale, group, length, qRow, kvRow, stat, keyEnd };
}

function dot(x: Float64Array, xi: number, y: Float64Array, yi: number, n: number): number {
  let sum = 0;
  for (let d = 0; d < n; d++) sum += x[xi + d] * y[yi + d];
  return sum;
}

/**
 * Probabilities of query row (b, i, h) over its visible keys, the row's log-sum-exp, and the
 * largest scale·Σ|q·k| of its scores (what a score's rounding error is relative to: a score can
 * cancel to near 0, and with one key it is the log-sum-exp).
 */
function rowProbabilities(q: Float64Array, k: Float64Array, r: ReturnType<typeof resolve>, b: number, i: number, h: number) {
  const len = r.length(b);
  const keys = i < len ? r.keyEnd(i, len) : 0;
  const scores = new Float64Array(keys);
  let max = -Infinity;
  let magnitude = 0;
  for (let j = 0; j < keys; j++) {
    const qi = r.qRow(b, i, h), kj = r.kvRow(b, j, Math.floor(h / r.group));
    scores[j] = r.scale * dot(q, qi, k, kj, r.dim);
    max = Math.max(max, scores[j]);
    let terms = 0;
    for (let d = 0; d < r.dim; d++) terms += Math.abs(q[qi + d] * k[kj + d]);
    magnitude = Math.max(magnitude, r.scale * terms);
  }
  let sum = 0;
  for (let j = 0; j < keys; j++) sum += Math.exp(scores[j] - max);
  for (let j = 0; j < keys; j++) scores[j] = Math.exp(scores[j] - max) / sum;
  return { probs: scores, lse: keys > 0 ? max + Math.log(sum) : 0, magnitude };
}

export function attentionRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dims: AttentionDims,
  options: AttentionOptions = {},
): { out: Float64Array; lse: Float64Array; lseScale: Float64Array } {
  const r = resolve(dims, options);
  const out = new Float64Array(q.length);
  const lse = new Float64Array(r.batch * r.qHeads * r.tokens);
  // What lse's error is measured against: |lse| and its scores' terms (the harness's `<output>Scale`).
  const lseScale = new Float64Array(lse.length);
  for (let b = 0; b < r.batch; b++) {
    for (let h = 0; h < r.qHeads; h++) {
      for (let i = 0; i < r.tokens; i++) {
        const { probs, lse: rowLse, magnitude } = rowProbabilities(q, k, r, b, i, h);
        lse[r.stat(b, h, i)] = rowLse;
        lseScale[r.stat(b, h, i)] = Math.abs(rowLse) + magnitude;
        const o = r.qRow(b, i, h);
        for (let j = 0; j < probs.length; j++) {
          const vj = r.kvRow(b, j, Math.floor(h / r.group));
          for (let d = 0; d < r.dim; d++) out[o + d] += probs[j] * v[vj + d];
        }
      }
    }
  }
  return { out, lse, lseScale };
}

/**
 * Gradients of Σ dout·attention(q, k, v).out with respect to q, k and v. With `savedOut`, delta =
 * rowsum(dout ∘ savedOut) is taken from that forward output (as the op does, which sees the
 * output rounded to its dtype) instead of the exact one.
 */
export function attentionBackwardRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dout: Float64Array,
  dims: AttentionDims,
  options: AttentionOptions = {},
  savedOut?: Float64Array,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const r = resolve(dims, options);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < r.batch; b++) {
    for (let h = 0; h < r.qHeads; h++) {
      const hkv = Math.floor(h / r.group);
      for (let i = 0; i < r.tokens; i++) {
        const { probs } = rowProbabilities(q, k, r, b, i, h);
        const qi = r.qRow(b, i, h);
        const dp = new Float64Array(probs.length);
        let delta = 0;
        for (let j = 0; j < probs.length; j++) {
          dp[j] = dot(dout, qi, v, r.kvRow(b, j, hkv), r.dim);
          delta += probs[j] * dp[j];
        }
        if (savedOut) delta = dot(dout, qi, savedOut, qi, r.dim);
        for (let j = 0; j < probs.length; j++) {
          const kj = r.kvRow(b, j, hkv);
          const ds = probs[j] * (dp[j] - delta);
          for (let d = 0; d < r.dim; d++) {
            dq[qi + d] += r.scale * ds * k[kj + d];
            dk[kj + d] += r.scale * ds * q[qi + d];
            dv[kj + d] += probs[j] * dout[qi + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/**
 * One decode step: q (B, Hq, D) against caches (B, S, Hkv, D) holding cacheLens[b] valid rows;
 * the result (B, Hq, D).
 */
export function attentionDecodeRef(
  q: Float64Array,
  kCache: Float64Array,
  vCache: Float64Array,
  cacheLens: ArrayLike<number>,
  dims: { batch: number; slots: number; qHeads: number; kvHeads: number; dim: number },
  scale = 0,
): Float64Array {
  const { batch, slots, qHeads, kvHeads, dim } = dims;
  const out = new Float64Array(q.length);
  for (let b = 0; b < batch; b++) {
    const len = Math.min(Math.max(cacheLens[b], 0), slots);
    for (let h = 0; h < qHeads; h++) {
      const qOff = (b * qHeads + h) * dim;
      const hkv = Math.floor(h / (qHeads / kvHeads));
      const s = scale ? scale : 1 / Math.sqrt(dim);
      const scores = new Float64Array(len);
      let max = -Infinity;
      for (let j = 0; j < len; j++) {
        scores[j] = s * dot(q, qOff, kCache, ((b * slots + j) * kvHeads + hkv) * dim, dim);
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < len; j++) sum += Math.exp(scores[j] - max);
      for (let j = 0; j < len; j++) {
        const p = Math.exp(scores[j] - max) / sum;
        const vj = ((b * slots + j) * kvHeads + hkv) * dim;
        for (let d = 0; d < dim; d++) out[qOff + d] += p * vCache[vj + d];
      }
    }
  }
  return out;
}
