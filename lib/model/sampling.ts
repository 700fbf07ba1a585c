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

/** The next token from `logits` (V); `random` gives uniforms in [0, 1) (seeded by the caller). */
export function sampleToken(logits: Float32Array, options: SamplingOptions, random: () => number): number {
  const temperature = options.temperature ?? 0;
  if (!(temperature >= 0)) throw new RangeError(`temperature must be ≥ 0, got ${temperature}`);
  if (temperature === 0) return argmax(logits);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  // Candidates by decreasing logit; top-k cuts the list, top-p cuts it where the mass reaches p.
  let order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (topK > 0) order = order.slice(0, topK);
  const max = logits[order[0]] / temperature;
  const weights = order.map((i) => Math.exp(logits[i] / temperature - max));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = order.length;
  if (topP < 1) {
    let mass = 0;
    kept = 0;
    while (kept < order.length && mass < topP) mass += weights[kept++] / total;
  }
  const keptTotal = weights.slice(0, kept).reduce((a, b) => a + b, 0);
  let u = random() * keptTotal;
  for (let i = 0; i < kept; i++) {
    u -= weights[i];
    if (u < 0) return order[i];
  }
  return order[kept - 1];
}

/** The index of the largest value (the first of ties). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
