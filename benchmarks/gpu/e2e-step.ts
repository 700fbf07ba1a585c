/**
 * The proof's end-to-end step, our side (step f): optimizer steps of stage 2 (projector + LLM) or
 * stage 1 (projector; gradients through the frozen LLM) of a randomly initialised Qwen3-4B-shaped
 * VQA model on one batch of slides and conversations, timed; benchmarks/gpu/torch_e2e_step.py runs
 * the same step in PyTorch + transformers on the batch this script writes.
 *
 *   node build/gpu-kit/js/benchmarks/gpu/e2e-step.js --stage 2 --device cuda:0 --batch-dir D --json FILE
 *   node build/gpu-kit/js/benchmarks/gpu/e2e-step.js --stage 1 --device cpu --tiny --batch-dir D --json FILE
 *
 * The batch: 4 conversations of 900–1 024 tokens (random ids; the answers, the second half of each,
 * labelled) with one slide each of 8 000–40 000 patches of 1024-d features, its 16 slide tokens at
 * positions 8–23. `--batch-dir` receives config.json, batch.json and features.f32 (written once,
 * read when present, so both stages and PyTorch see the same batch). Weights are random: a block
 * of N(0, 0.02)-like values that each tensor views at its own offset (no download, no 16 GB of
 * host random numbers), RMSNorm scales 1, as transformers initialises them.
 *
 * Tokens/s counts the real tokens of the batch; model FLOPs count the LLM's matrix products and
 * causal attention (forward 2·params·tokens, the LM head on the labelled tokens only), times 3 for
 * stage 2 (both gradients) and 2 for stage 1 (no weight gradients); MFU divides by the H200's
 * dense bf16 peak (989 TFLOP/s, NVIDIA's datasheet). Peak memory is read by the proof from
 * nvidia-smi around this process.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomCompressor } from '../../lib/compressorState.js';
import type { StoredTensor } from '../../lib/io/storedTensor.js';
import { type Qwen3Config } from '../../lib/model/qwen3Config.js';
import { Qwen3Model } from '../../lib/model/qwen3Model.js';
import { qwen3WeightSpecs } from '../../lib/model/qwen3Weights.js';
import { tinyQwen3Config } from '../../lib/model/tinyQwen3.js';
import { native } from '../../lib/native.js';
import { randomProjector } from '../../lib/projectorState.js';
import { clipScale } from '../../lib/qwen3Ops.js';
import { mulberry32 } from '../../lib/random.js';
import type { Device } from '../../lib/tensor.js';
import type { VqaBatch } from '../../lib/text/collate.js';
import { loadTokenizer } from '../../lib/text/tokenizer.js';
import { AdamW } from '../../lib/train/optimizer.js';
import { VqaModel } from '../../lib/vqa/vqaModel.js';
import { VqaTask } from '../../lib/vqa/vqaTask.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const stage = Number(option('--stage') ?? 2) as 1 | 2;
const device = (option('--device') ?? 'cuda:0') as Device;
const tiny = args.includes('--tiny');
const batchDir = option('--batch-dir') ?? 'build/gpu-proof-batch';
const jsonFile = option('--json');
const [warmups, steps] = tiny ? [1, 2] : [1, 3];
/** NVIDIA H200 SXM, dense bf16 (datasheet). */
const PEAK_TFLOPS = 989;
const IMAGE_TOKENS = 16;
const FEATURE_WIDTH = 1024;

const config: Qwen3Config = tiny
  ? tinyQwen3Config({ hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 1024, seed: 1 }, { bos: 0, eos: 1 })
  : tinyQwen3Config({ hiddenSize: 2560, layers: 36, heads: 32, kvHeads: 8, headDim: 128, intermediateSize: 9728, seed: 1, dtype: 'bf16' });

/** The batch, made once per folder: ids, labels and slides that both sides read. */
function batchOf(): VqaBatch {
  const batchFile = join(batchDir, 'batch.json');
  const featuresFile = join(batchDir, 'features.f32');
  if (!existsSync(batchFile)) {
    const random = mulberry32(20260101);
    const lengths = tiny ? [40, 29] : [1024, 980, 900, 1010];
    const patches = tiny ? [300, 120] : [12_000, 25_000, 40_000, 8_000];
    const T = Math.max(...lengths);
    const ids: number[] = [];
    const labels: number[] = [];
    const imageTokenIndices: number[] = [];
    lengths.forEach((length, b) => {
      for (let t = 0; t < T; t++) {
        const real = t < length;
        const id = real ? 1 + Math.floor(random() * (Math.min(config.vocab_size, 151_643) - 1)) : 0;
        ids.push(id);
        labels.push(real && t >= length / 2 ? id : -100);
        if (t >= 8 && t < 8 + IMAGE_TOKENS) imageTokenIndices.push(b * T + t);
      }
    });
    const offsets = patches.reduce((o, p) => [...o, o[o.length - 1] + p], [0]);
    const features = new Float32Array(offsets[offsets.length - 1] * FEATURE_WIDTH);
    for (let i = 0; i < features.length; i++) features[i] = 2 * random() - 1;
    mkdirSync(batchDir, { recursive: true });
    writeFileSync(featuresFile, features);
    writeFileSync(batchFile, JSON.stringify({ lengths, sequenceLength: T, ids, labels, imageTokenIndices, patchOffsets: offsets, featureWidth: FEATURE_WIDTH }));
    writeFileSync(join(batchDir, 'config.json'), JSON.stringify(config, null, 1));
  }
  const saved = JSON.parse(readFileSync(batchFile, 'utf8')) as { lengths: number[]; sequenceLength: number; ids: number[]; labels: number[]; imageTokenIndices: number[]; patchOffsets: number[]; featureWidth: number };
  const bytes = readFileSync(featuresFile);
  const features = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const B = saved.lengths.length;
  const T = saved.sequenceLength;
  return {
    batchSize: B,
    sequenceLength: T,
    inputIds: Int32Array.from(saved.ids),
    labels: Int32Array.from(saved.labels),
    attentionMask: Uint8Array.from({ length: B * T }, (_, i) => Number(i % T < saved.lengths[Math.floor(i / T)])),
    lengths: Int32Array.from(saved.lengths),
    answerTokens: saved.labels.filter((l) => l !== -100).length,
    imagePositions: saved.lengths.map((_, b) => saved.imageTokenIndices.filter((i) => Math.floor(i / T) === b).map((i) => i % T)),
    imageTokenIndices: Int32Array.from(saved.imageTokenIndices),
    features,
    featureWidth: saved.featureWidth,
    patchOffsets: Int32Array.from(saved.patchOffsets),
    slideSample: Int32Array.from(saved.lengths, (_, b) => b),
  };
}

/** Random weights by name: views of one shared block of values (see the file's comment). */
function randomWeights(): Map<string, StoredTensor> {
  const specs = qwen3WeightSpecs(config);
  const largest = Math.max(...specs.map((s) => s.shape.reduce((a, b) => a * b, 1)));
  const period = 1 << 22;
  const block = new Float32Array(largest + period);
  const random = mulberry32(7);
  const std = config.initializer_range;
  for (let i = 0; i < period; i++) block[i] = std * Math.sqrt(3) * (2 * random() - 1); // uniform with the std of N(0, std²)
  for (let i = period; i < block.length; i += period) block.copyWithin(i, 0, Math.min(period, block.length - i));
  const ones = new Float32Array(config.hidden_size).fill(1);
  const weights = new Map<string, StoredTensor>();
  specs.forEach(({ name, shape }, i) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const offset = (i * 9973) % period;
    weights.set(name, { dtype: 'F32', shape, data: name.endsWith('norm.weight') ? ones.subarray(0, count) : block.subarray(offset, offset + count) });
  });
  return weights;
}

/** FLOPs of one step of the LLM (see the file's comment). */
function modelFlops(batch: VqaBatch): number {
  const { hidden_size: h, intermediate_size: inter, num_hidden_layers: layers, num_attention_heads: hq, num_key_value_heads: hkv, head_dim: d, vocab_size: vocab } = config;
  const layerParams = h * (hq + 2 * hkv) * d + hq * d * h + 3 * h * inter;
  const tokens = batch.lengths.reduce((a, b) => a + b, 0);
  const attention = 4 * layers * hq * d * batch.lengths.reduce((a, n) => a + (n * n) / 2, 0);
  const forward = 2 * layers * layerParams * tokens + attention + 2 * vocab * h * batch.answerTokens;
  return (stage === 2 ? 3 : 2) * forward;
}

const startedAt = performance.now();
const batch = batchOf();
const llm = Qwen3Model.fromWeights(config, randomWeights(), { device, source: 'random weights' });
const model = new VqaModel({
  compressor: randomCompressor({ device, seed: 3 }),
  projector: randomProjector(config.hidden_size, 4, { device }),
  llm,
  tokenizer: await loadTokenizer(),
  llmPath: 'random',
});
const task = new VqaTask(model, stage);
const optimizer = new AdamW(task.parameters());
native.synchronize();
const setupSeconds = (performance.now() - startedAt) / 1000;

const times: number[] = [];
let loss = NaN;
for (let step = 0; step < warmups + steps; step++) {
  const t0 = performance.now();
  task.zeroGradients();
  const { lossSum, count } = await task.forwardBackward(batch, { step, micro: 0, seed: 1 });
  const norm = optimizer.gradNorm() / count;
  optimizer.step({ lr: 1e-5, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, step: step + 1, gradScale: clipScale(norm, 1) / count });
  native.synchronize();
  loss = lossSum / count;
  if (step >= warmups) times.push(performance.now() - t0);
  console.log(`stage ${stage} step ${step}${step < warmups ? ' (warm-up)' : ''}: ${(performance.now() - t0).toFixed(0)} ms, loss ${loss.toFixed(4)}, grad norm ${norm.toExponential(3)}`);
}
const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
const tokens = batch.lengths.reduce((a, b) => a + b, 0);
const flops = modelFlops(batch);
const result = {
  side: 'wsi-vqa', stage, device, tiny, setupSeconds, stepMs: ms, steps: times.length, loss,
  tokens, answerTokens: batch.answerTokens, slides: batch.patchOffsets.length - 1, patches: batch.patchOffsets[batch.patchOffsets.length - 1],
  tokensPerSecond: tokens / (ms / 1000), modelTflops: flops / 1e12, mfu: device === 'cpu' ? null : flops / (ms / 1000) / (PEAK_TFLOPS * 1e12),
  parameters: llm.params.buffer.shape[0], dtype: llm.dtype, optimizer: 'AdamW: f32 moments and f32 master weights',
};
console.log(JSON.stringify(result));
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(result, null, 1));
optimizer.dispose();
task.dispose();
