/**
 * Benchmarks of attention (forward, backward, decode) and the linear layer (issue 3), on
 * Qwen3-4B shapes: 32 query / 8 key-value heads, head dim 128, bf16, causal; linear layers of
 * hidden 2560 and MLP 9728 over 8192 tokens.
 *
 *   benchmarks/run-attention-linear.sh              # cuda:0 when present, else the CPU; both matmul paths; PyTorch
 *   benchmarks/run-attention-linear.sh --device cpu --small
 *
 * TFLOP/s count the useful work: causal attention forward 2·2·B·Hq·T²·D / 2, backward 2.5× that
 * (five T×T products to the forward's two); a GEMM 2·M·N·K. Each number is the median of
 * several runs after a warm-up, waiting for the device (the async op calls settle when it is done).
 */
import { attentionAsync } from '../lib/attentionOps.js';
import { info } from '../lib/info.js';
import { matmulAsync, runOpAsync } from '../lib/ops.js';
import type { Device } from '../lib/tensor.js';
import { Tensor } from '../lib/tensor.js';
import { medianMsAsync } from './timing.js';

const args = process.argv.slice(2);
const small = args.includes('--small');
const deviceArg = args.indexOf('--device');
const device: Device = deviceArg >= 0 ? (args[deviceArg + 1] as Device) : info().backends.cuda.available ? 'cuda:0' : 'cpu';
const repeats = small ? 3 : 10;

function randomTensor(shape: number[], scale = 1): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = scale * (Math.random() * 2 - 1);
  return Tensor.from(data, shape, { dtype: 'bf16', device });
}


const tflops = (flops: number, ms: number) => (flops / (ms * 1e-3) / 1e12).toPrecision(3);

async function benchAttention(tokens: number): Promise<void> {
  const [batch, qHeads, kvHeads, dim] = small ? [1, 4, 1, 64] : [16384 / tokens, 32, 8, 128];
  const q = randomTensor([batch, tokens, qHeads, dim]);
  const k = randomTensor([batch, tokens, kvHeads, dim]);
  const v = randomTensor([batch, tokens, kvHeads, dim]);
  const dout = randomTensor([batch, tokens, qHeads, dim]);
  const out = Tensor.empty(q.shape, { dtype: 'bf16', device });
  const lse = Tensor.empty([batch, qHeads, tokens], { device });
  const delta = Tensor.empty([batch, qHeads, tokens], { device });
  const dq = Tensor.empty(q.shape, { dtype: 'bf16', device });
  const dk = Tensor.empty(k.shape, { dtype: 'bf16', device });
  const dv = Tensor.empty(v.shape, { dtype: 'bf16', device });
  const forwardMs = await medianMsAsync(async () => {
    await attentionAsync(q, k, v, { out, lse });
  }, repeats);
  const backwardMs = await medianMsAsync(() => runOpAsync('attention_backward', { dq, dk, dv, delta, q, k, v, out, lse, dout }), repeats);
  const flops = (4 * batch * qHeads * tokens * tokens * dim) / 2;
  const path = device === 'cpu' ? '' : ` (WSI_VQA_ATTENTION=${process.env.WSI_VQA_ATTENTION ?? 'auto'})`;
  console.log(
    `attention on ${device}${path}: B ${batch} T ${tokens} Hq ${qHeads}/Hkv ${kvHeads} D ${dim} bf16 causal: ` +
      `forward ${forwardMs.toFixed(2)} ms (${tflops(flops, forwardMs)} TFLOP/s), ` +
      `backward ${backwardMs.toFixed(2)} ms (${tflops(2.5 * flops, backwardMs)} TFLOP/s)`,
  );

  // One decode step per sequence against a cache of T tokens: bytes of K and V read.
  const qStep = randomTensor([batch, qHeads, dim]);
  const lens = Tensor.from(Int32Array.from({ length: batch }, () => tokens), [batch], { device });
  const step = Tensor.empty(qStep.shape, { dtype: 'bf16', device });
  const decodeMs = await medianMsAsync(() => runOpAsync('attention_decode', { out: step, q: qStep, kCache: k, vCache: v, cacheLens: lens }), repeats);
  const bytes = 2 * batch * tokens * kvHeads * dim * 2;
  console.log(`attention_decode on ${device}${path}: cache ${tokens}: ${decodeMs.toFixed(3)} ms (${(bytes / (decodeMs * 1e-3) / 1e9).toPrecision(3)} GB/s of K and V)`);
  for (const t of [q, k, v, dout, out, lse, delta, dq, dk, dv, qStep, lens, step]) t.dispose();
}

async function benchLinear(m: number, k: number, n: number): Promise<void> {
  const x = randomTensor([m, k]);
  const weight = randomTensor([n, k], 0.02);
  const out = Tensor.empty([m, n], { dtype: 'bf16', device });
  const ms = await medianMsAsync(async () => {
    await matmulAsync(x, weight, { transB: true, out });
  }, repeats);
  const path = device === 'cpu' ? '' : ` (WSI_VQA_MATMUL=${process.env.WSI_VQA_MATMUL ?? 'auto'})`;
  console.log(`linear on ${device}${path}: x [${m}, ${k}] · Wᵀ [${n}, ${k}] bf16: ${ms.toFixed(2)} ms (${tflops(2 * m * n * k, ms)} TFLOP/s)`);
  for (const t of [x, weight, out]) t.dispose();
}

for (const tokens of small ? [256] : [2048, 4096, 8192]) await benchAttention(tokens);
const tokens = small ? 256 : 8192;
for (const [k, n] of small ? [[256, 512]] : [[2560, 4096], [2560, 9728], [9728, 2560]]) await benchLinear(tokens, k, n);
