/**
 * Generation on every backend present: cached decoding equals recomputing the whole sequence,
 * a batch of prompts of different lengths equals each prompt alone, sampling replays from its
 * seed, stop tokens end an answer, and continuation scores are the model's log-likelihoods.
 */
import { describe, expect, it } from 'vitest';
import { toFloat32 } from '../../lib/io/storedTensor.js';
import { Qwen3Model, generate, randomQwen3Weights, sampleToken, scoreContinuations, tinyQwen3Config } from '../../lib/model/index.js';
import { mulberry32 } from '../../lib/random.js';
import { Tensor } from '../../lib/tensor.js';
import { backends } from '../ops/harness.js';

const config = tinyQwen3Config({ hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediateSize: 48, vocabSize: 211, seed: 5 }, { bos: 209, eos: 210 });
const weights = randomQwen3Weights(config, 5);
// Larger weights than the default init: greedy paths that depend on the context.
for (const [name, t] of weights) if (!name.endsWith('norm.weight')) weights.set(name, { ...t, data: toFloat32(t, 'test', name).map((v) => v * 20) });

const prompts = [Int32Array.of(5, 17, 33, 2, 90, 11, 4), Int32Array.of(8, 150), Int32Array.of(60, 61, 62, 63)];

describe.each(backends().filter((b) => b.available))('generation on $device', ({ device }) => {
  const model = Qwen3Model.fromWeights(config, weights, { device, dtype: 'f32' });
  const image = () => ({ embeds: Tensor.from(Float32Array.from({ length: 2 * 32 }, (_, i) => Math.sin(i)), [2, 32], { device }), rows: Int32Array.of(1, 2) });

  it('decodes with the cache exactly as recomputing every step, and a batch as each prompt alone', () => {
    const batch = prompts.map((ids, i) => ({ ids, image: i === 0 ? image() : undefined }));
    const cached = generate(model, batch, { maxNewTokens: 12, stopTokens: [] });
    const recomputed = generate(model, batch, { maxNewTokens: 12, stopTokens: [], cache: false });
    expect(cached).toEqual(recomputed);
    expect(new Set(cached.flat()).size).toBeGreaterThan(3);
    prompts.forEach((_, i) => expect(generate(model, [batch[i]], { maxNewTokens: 12, stopTokens: [] })[0], `prompt ${i}`).toEqual(cached[i]));
  });

  it('samples reproducibly from a seed, streams every token, and stops at a stop token', () => {
    const streamed: [number, number][] = [];
    const options = { maxNewTokens: 10, temperature: 1.5, topK: 50, topP: 0.9, seed: 42, stopTokens: [] };
    const first = generate(model, [{ ids: prompts[0] }, { ids: prompts[1] }], { ...options, onToken: (p, t) => streamed.push([p, t]) });
    expect(generate(model, [{ ids: prompts[0] }, { ids: prompts[1] }], options)).toEqual(first);
    expect(streamed.filter(([p]) => p === 1).map(([, t]) => t)).toEqual(first[1]);
    const greedy = generate(model, [{ ids: prompts[2] }], { maxNewTokens: 8, stopTokens: [] })[0];
    const stopped = generate(model, [{ ids: prompts[2] }], { maxNewTokens: 8, stopTokens: [greedy[3]] })[0];
    expect(stopped).toEqual(greedy.slice(0, greedy.indexOf(greedy[3]) + 1));
  });

  it('scores continuations with the log-likelihood the greedy path maximises', () => {
    const greedy = generate(model, [{ ids: prompts[1] }], { maxNewTokens: 3, stopTokens: [] })[0];
    const other = Int32Array.from(greedy, (t) => (t + 1) % 211);
    const [best, worse] = scoreContinuations(model, { ids: prompts[1] }, [Int32Array.from(greedy.slice(0, 1)), Int32Array.from(other.slice(0, 1))]);
    expect(best).toBeGreaterThan(worse);
    expect(best).toBeLessThan(0);
    // The log-softmax of the model's logits at the next position, in float64.
    const ids = prompts[1];
    using logits = model.logits({ ids: Int32Array.from([...ids, greedy[0]]), batch: 1, tokens: ids.length + 1 }, { rows: [ids.length - 1] });
    const row = Float64Array.from(logits.toFloat32());
    const max = Math.max(...row);
    const logSumExp = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
    expect(best).toBeCloseTo(row[greedy[0]] - logSumExp, 4);
    // Two tokens: the sum of each step's log-probability.
    const [two] = scoreContinuations(model, { ids: prompts[1] }, [Int32Array.from(greedy.slice(0, 2))]);
    const [second] = scoreContinuations(model, { ids: Int32Array.from([...prompts[1], greedy[0]]) }, [Int32Array.from(greedy.slice(1, 2))]);
    expect(two).toBeCloseTo(best + second, 4);
  });
});

describe('sampleToken', () => {
  it('is greedy at temperature 0, keeps only the top k, and only the nucleus of top p', () => {
    const logits = Float32Array.of(0, 3, 1, 2.9, -5);
    expect(sampleToken(logits, {}, Math.random)).toBe(1);
    const random = mulberry32(1);
    const seen = new Set(Array.from({ length: 200 }, () => sampleToken(logits, { temperature: 1, topK: 2 }, random)));
    expect(seen).toEqual(new Set([1, 3]));
    const nucleus = new Set(Array.from({ length: 200 }, () => sampleToken(logits, { temperature: 1, topP: 0.4 }, random)));
    expect(nucleus).toEqual(new Set([1])); // p(1) ≈ 0.43 ≥ 0.4: the nucleus is token 1 alone
    expect(() => sampleToken(logits, { temperature: -1 }, random)).toThrow(/temperature/);
  });

  it('cuts top-k and top-p exactly where a full sort of the vocabulary does', () => {
    const random = mulberry32(7);
    // Peaked like a language model's logits, with ties, over 20 000 tokens.
    const logits = Float32Array.from({ length: 20_000 }, (_, i) => (i % 97 === 0 ? 12 : 0) + Math.round(random() * 40) / 4);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    const last = () => 1 - 1e-12; // u → 1 picks the weakest token kept
    for (const temperature of [0.5, 1.3]) {
      for (const topK of [1, 7, 500]) expect(sampleToken(logits, { temperature, topK }, last), `k ${topK}`).toBe(order[topK - 1]);
      const weights = order.map((i) => Math.exp((logits[i] - logits[order[0]]) / temperature));
      const total = weights.reduce((a, b) => a + b, 0);
      for (const topP of [0.05, 0.5, 0.9, 0.999]) {
        let kept = 0;
        for (let mass = 0; mass < topP; ) mass += weights[kept++] / total;
        expect(sampleToken(logits, { temperature, topP }, last), `p ${topP}`).toBe(order[kept - 1]);
        expect(sampleToken(logits, { temperature, topP }, () => 0)).toBe(order[0]);
      }
    }
  });
});
