/** Float64 references of the MoE routing ops (native/include/wsi/ops/moe.h). */
import { counterNormal } from './math.js';

export type RouteRef = {
  probs: Float64Array;
  weights: Float64Array;
  slotLoad: Float64Array;
  slotProb: Float64Array;
  auxLoss: Float64Array;
};

/** Whether slot k is among the top-k of p (ties to the lower index). */
export function inTopK(p: ArrayLike<number>, k: number, topK: number): boolean {
  let above = 0;
  for (let j = 0; j < p.length; j++) above += Number(p[j] > p[k] || (p[j] === p[k] && j < k));
  return above < topK;
}

export function routeRef(logits: Float64Array, k: number, topK: number, noise: number, seed: number): RouteRef {
  const n = logits.length / k;
  const probs = new Float64Array(n * k);
  const weights = new Float64Array(n * k);
  const slotLoad = new Float64Array(k);
  const slotProb = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const z = Array.from({ length: k }, (_, j) => logits[r * k + j] + (noise > 0 ? noise * counterNormal(seed, r * k + j) : 0));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / sum);
    for (let j = 0; j < k; j++) {
      const c = inTopK(p, j, topK);
      probs[r * k + j] = p[j];
      weights[r * k + j] = c ? p[j] : 0;
      slotLoad[j] += Number(c) / (n * topK);
      slotProb[j] += p[j] / n;
    }
  }
  let aux = 0;
  for (let j = 0; j < k; j++) aux += slotLoad[j] * slotProb[j];
  return { probs, weights, slotLoad, slotProb, auxLoss: Float64Array.of(k * aux) };
}

/** slots (K, S, D) and denom (K, S) from x (N, D), weights (N, K), offsets (S + 1). */
export function slotMeanRef(x: Float64Array, weights: Float64Array, offsets: ArrayLike<number>, d: number, k: number): { slots: Float64Array; denom: Float64Array } {
  const s = offsets.length - 1;
  const slots = new Float64Array(k * s * d);
  const denom = new Float64Array(k * s);
  for (let slide = 0; slide < s; slide++) {
    for (let j = 0; j < k; j++) {
      let total = 0;
      for (let n = offsets[slide]; n < offsets[slide + 1]; n++) total += weights[n * k + j];
      denom[j * s + slide] = total + 1e-9;
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let n = offsets[slide]; n < offsets[slide + 1]; n++) acc += weights[n * k + j] * x[n * d + i];
        slots[(j * s + slide) * d + i] = acc / (total + 1e-9);
      }
    }
  }
  return { slots, denom };
}
