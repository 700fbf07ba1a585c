/**
 * Choosing the next token from logits: greedy, or sampled with temperature, top-k and top-p
 * (nucleus), as Hugging Face's generate applies them (temperature, then top-k, then top-p).
 */

/** How the next token is chosen. */
export interface SamplingOptions {
  /** 0 (the default) is greedy; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: all). Default 0. */
  topK?: number;
  /** Keep the most likely tokens whose probabilities add up to p (1: all). Default 1. */
  topP?: number;
}

/** Buckets of the nucleus search: enough that the bucket holding the cut has few tokens to sort. */
const NUCLEUS_BUCKETS = 4096;

/**
 * The next token from `logits` (V); `random` gives uniforms in [0, 1) (seeded by the caller).
 * No full sort of the vocabulary (151 936 logits took ~150 ms per token in JS): top-k keeps a
 * heap of k, and top-p finds the bucket of logits where the nucleus mass is reached and sorts
 * only the tokens above it.
 */
export function sampleToken(logits: Float32Array, options: SamplingOptions, random: () => number): number {
  const temperature = options.temperature ?? 0;
  if (!(temperature >= 0)) throw new RangeError(`temperature must be ≥ 0, got ${temperature}`);
  if (temperature === 0) return argmax(logits);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new RangeError(`topK must be a non-negative integer, got ${topK}`);
  // Candidates: the k largest logits (by decreasing logit), or every token (in id order).
  let candidates = topK > 0 && topK < logits.length ? largest(logits, topK) : allTokens(logits.length);
  let max = -Infinity;
  for (const i of candidates) if (logits[i] > max) max = logits[i];
  // exp once per candidate: the weights are read up to three times.
  const weights = new Float64Array(logits.length);
  for (const i of candidates) weights[i] = Math.exp((logits[i] - max) / temperature);
  const weight = (i: number) => weights[i];
  if (topP < 1) candidates = nucleus(logits, candidates, weight, topP);
  let total = 0;
  for (const i of candidates) total += weight(i);
  let u = random() * total;
  for (const i of candidates) {
    u -= weight(i);
    if (u < 0) return i;
  }
  return candidates[candidates.length - 1];
}

function allTokens(count: number): Int32Array {
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = i;
  return ids;
}

/** Orders token ids by decreasing logit, ties by increasing id. */
function byLogit(logits: Float32Array): (a: number, b: number) => number {
  return (a, b) => logits[b] - logits[a] || a - b;
}

/** The k tokens of largest logit, in decreasing order: a min-heap of k over one pass. */
function largest(logits: Float32Array, k: number): Int32Array {
  const order = byLogit(logits);
  const heap = new Int32Array(k); // heap[0]: the weakest kept token
  const weaker = (a: number, b: number) => order(a, b) > 0;
  const siftDown = (at: number, size: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let weakest = at;
      if (l < size && weaker(heap[l], heap[weakest])) weakest = l;
      if (r < size && weaker(heap[r], heap[weakest])) weakest = r;
      if (weakest === at) return;
      [heap[at], heap[weakest]] = [heap[weakest], heap[at]];
      at = weakest;
    }
  };
  for (let i = 0; i < k; i++) heap[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i, k);
  for (let i = k; i < logits.length; i++) {
    if (order(i, heap[0]) < 0) {
      heap[0] = i;
      siftDown(0, k);
    }
  }
  return heap.sort(order);
}

/**
 * The smallest set of the most likely candidates whose probability (among the candidates)
 * reaches p, by decreasing logit. Candidates are bucketed by logit; only those in the buckets
 * down to the one where the mass reaches p (and one more, against rounding in the sums) are sorted.
 */
function nucleus(logits: Float32Array, candidates: Int32Array, weight: (i: number) => number, p: number): Int32Array {
  let low = Infinity;
  let high = -Infinity;
  for (const i of candidates) {
    if (logits[i] < low) low = logits[i];
    if (logits[i] > high) high = logits[i];
  }
  const span = high - low;
  const scale = span > 0 ? NUCLEUS_BUCKETS / span : 0;
  const buckets = new Uint16Array(candidates.length);
  const mass = new Float64Array(NUCLEUS_BUCKETS);
  let total = 0;
  for (let c = 0; c < candidates.length; c++) {
    const i = candidates[c];
    const bucket = Math.min(NUCLEUS_BUCKETS - 1, Math.floor((logits[i] - low) * scale));
    buckets[c] = bucket;
    const w = weight(i);
    mass[bucket] += w;
    total += w;
  }
  let cut = NUCLEUS_BUCKETS - 1;
  for (let above = mass[cut]; above < p * total && cut > 0; above += mass[--cut]);
  cut = Math.max(0, cut - 1);
  const sorted = candidates.filter((_, c) => buckets[c] >= cut).sort(byLogit(logits));
  let kept = 0;
  let reached = 0;
  while (kept < sorted.length && reached < p) reached += weight(sorted[kept++]) / total;
  return sorted.subarray(0, kept);
}

/** The index of the largest value (the first of ties). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
