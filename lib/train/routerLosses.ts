/**
 * The compressor's routing losses as TC-SSA trains with them (stage 0, and stages 1–2 with
 * `--train-compressor`), computed per slide on the host from the gate's probabilities and logits.
 * For slide s with patches n ∈ s (N_s of them) and K slots:
 *
 *   P̄ₖ = (1/N_s) Σₙ p[n,k]                         p: softmax of the noisy logits (what routes)
 *   fₖ = #{n : k among n's top-k slots} / N_s        (Σₖ fₖ = top-k; a count: no gradient)
 *   balance = K · Σₖ fₖ · P̄ₖ                        (Switch Transformer's load balancing)
 *   entropy = 1 − H(P̄) / log K,  H(P̄) = −Σₖ P̄ₖ log P̄ₖ   (0 when the slide uses every slot alike)
 *   zLoss   = (1/N_s) Σₙ logsumexp(l[n,:])²          l: the gate's logits before the noise
 *
 *   routing loss of the slide = w_balance·balance + w_entropy·entropy + w_z·zLoss
 *
 * One slide's routing is balanced on its own patches, so a batch of different slides is not
 * balanced by routing each slide to its own few slots.
 */

/** The weight of each term in a slide's routing loss. */
export interface RouterLossWeights {
  balance: number;
  entropy: number;
  zLoss: number;
}

/** TC-SSA's: the Switch term, half the entropy term and 1e-4 of the z-loss. */
export const TC_SSA_ROUTER_LOSS: Readonly<RouterLossWeights> = { balance: 1, entropy: 0.5, zLoss: 1e-4 };

/** Each term summed over the slides (unweighted), and the weighted total. */
export interface RouterLossTerms {
  balance: number;
  entropy: number;
  zLoss: number;
  /** Σ over slides of the weighted routing loss. */
  total: number;
}

/** Inputs of {@link routerLosses}: host copies of the compressor's saved gate state. */
export interface RouterInputs {
  /** (N, K) the routing probabilities (after the noise). */
  probs: Float32Array;
  /** (N, K) the gate's logits before the noise. */
  logits: Float32Array;
  /** (S + 1) slide s owns rows offsets[s] … offsets[s+1]. */
  offsets: ArrayLike<number>;
  slots: number;
  topK: number;
}

/** Whether slot j is among a patch's `topK` most probable (ties to the lower index, as moe_route chooses). */
function inTopK(p: Float32Array, row: number, k: number, j: number, topK: number): boolean {
  let better = 0;
  const pj = p[row + j];
  for (let i = 0; i < k; i++) if (p[row + i] > pj || (p[row + i] === pj && i < j)) better++;
  return better < topK;
}

/**
 * The routing losses of every slide, and `gradScale` × the gradient of their weighted sum to
 * the logits (N, K): the balance and entropy terms reach them through the routing softmax, the
 * z-loss directly.
 */
export function routerLosses(input: RouterInputs, weights: RouterLossWeights = TC_SSA_ROUTER_LOSS, gradScale = 1): { terms: RouterLossTerms; dLogits: Float32Array } {
  const { probs, logits, offsets, slots: k, topK } = input;
  const slides = offsets.length - 1;
  if (probs.length !== logits.length || probs.length !== offsets[slides] * k) {
    throw new RangeError(`routerLosses: probs (${probs.length}) and logits (${logits.length}) must both be ${offsets[slides]} patches × ${k} slots`);
  }
  const terms: RouterLossTerms = { balance: 0, entropy: 0, zLoss: 0, total: 0 };
  const dLogits = new Float32Array(probs.length);
  const logK = Math.log(k);
  const dp = new Float64Array(k);
  for (let s = 0; s < slides; s++) {
    const [first, end] = [offsets[s], offsets[s + 1]];
    const n = end - first;
    const mean = new Float64Array(k);
    const load = new Float64Array(k);
    for (let r = first; r < end; r++) {
      for (let j = 0; j < k; j++) {
        mean[j] += probs[r * k + j] / n;
        if (inTopK(probs, r * k, k, j, topK)) load[j] += 1 / n;
      }
    }
    let balance = 0;
    let h = 0;
    for (let j = 0; j < k; j++) {
      balance += k * load[j] * mean[j];
      if (mean[j] > 0) h -= mean[j] * Math.log(mean[j]);
    }
    const entropy = 1 - h / logK;
    // ∂/∂p[n,j] of the balance and entropy terms, the same for every patch of the slide.
    for (let j = 0; j < k; j++) {
      const dEntropy = (Math.log(Math.max(mean[j], 1e-30)) + 1) / logK;
      dp[j] = (weights.balance * k * load[j] + weights.entropy * dEntropy) / n;
    }
    let zLoss = 0;
    for (let r = first; r < end; r++) {
      const row = r * k;
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, logits[row + j]);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(logits[row + j] - max);
      const lse = max + Math.log(sum);
      zLoss += (lse * lse) / n;
      let dot = 0;
      for (let j = 0; j < k; j++) dot += probs[row + j] * dp[j];
      for (let j = 0; j < k; j++) {
        const viaSoftmax = probs[row + j] * (dp[j] - dot);
        const viaZ = (weights.zLoss * 2 * lse * Math.exp(logits[row + j] - lse)) / n;
        dLogits[row + j] = gradScale * (viaSoftmax + viaZ);
      }
    }
    terms.balance += balance;
    terms.entropy += entropy;
    terms.zLoss += zLoss;
    terms.total += weights.balance * balance + weights.entropy * entropy + weights.zLoss * zLoss;
  }
  return { terms, dLogits };
}
