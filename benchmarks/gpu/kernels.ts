/**
 * The proof's kernel benchmarks, our side (step e); benchmarks/gpu/torch_kernels.py times PyTorch
 * on the same shapes under the same ids, and benchmarks/gpu/results.py sets the two side by side.
 *
 *   node build/gpu-kit/js/benchmarks/gpu/kernels.js --device cuda:0 --json FILE
 *   node build/gpu-kit/js/benchmarks/gpu/kernels.js --device cpu --tiny --json FILE   # the dry run
 *
 * Qwen3-4B shapes, bf16 on the GPU: attention forward and backward (32 query / 8 key-value heads,
 * head dim 128, causal, B·T = 16 384, T 1k–8k); attention_decode at batch 1 and 16 against a
 * 4 096-token cache; the fused linear cross-entropy (T 8192, hidden 2560, vocab 151 936); the four
 * GEMMs of a layer, RMSNorm, RoPE and SwiGLU at T 8192 (lib/bench); the MoE compressor on one
 * 40 000-patch slide. Each time is the median of several runs after a warm-up, waiting for the
 * device. `--tiny` shrinks every shape so that the CPU runs it in seconds.
 */
import { writeFileSync } from 'node:fs';
import { attentionAsync } from '../../lib/attentionOps.js';
import { benchmarkOps } from '../../lib/bench/run.js';
import { randomCompressor } from '../../lib/compressorState.js';
import { linearCrossEntropy } from '../../lib/crossEntropy.js';
import type { DType } from '../../lib/dtype.js';
import { runOpAsync } from '../../lib/ops.js';
import { Tensor, type Device } from '../../lib/tensor.js';
import { medianMs, medianMsAsync } from '../timing.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const device = (option('--device') ?? 'cuda:0') as Device;
const tiny = args.includes('--tiny');
const jsonFile = option('--json');
const dtype: DType = device === 'cpu' ? 'f32' : 'bf16';
const repeats = tiny ? 3 : 10;

/** One measurement; `id` is shared with torch_kernels.py. */
interface Result {
  id: string;
  ms: number;
  tflops?: number;
  gbps?: number;
  /** Bytes the call needs beyond its inputs and outputs, where known. */
  extraBytes?: number;
  note?: string;
}
const results: Result[] = [];
function report(result: Result): void {
  results.push(result);
  const rate = result.tflops !== undefined ? `${result.tflops.toPrecision(3)} TFLOP/s` : result.gbps !== undefined ? `${result.gbps.toPrecision(3)} GB/s` : '';
  console.log(`${result.id.padEnd(34)} ${result.ms.toFixed(3).padStart(10)} ms  ${rate}${result.note ? `  (${result.note})` : ''}`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ device, dtype, tiny, results }, null, 1)); // as it goes
}

function random(shape: number[], scale = 1, type: DType = dtype): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = scale * (Math.random() * 2 - 1);
  return Tensor.from(data, shape, { dtype: type, device });
}


const tflops = (flops: number, ms: number) => flops / (ms * 1e-3) / 1e12;

async function attention(tokens: number): Promise<void> {
  const [batch, qHeads, kvHeads, dim] = tiny ? [1, 4, 2, 64] : [16384 / tokens, 32, 8, 128];
  const q = random([batch, tokens, qHeads, dim]);
  const k = random([batch, tokens, kvHeads, dim]);
  const v = random([batch, tokens, kvHeads, dim]);
  const dout = random([batch, tokens, qHeads, dim]);
  const out = Tensor.empty(q.shape, { dtype, device });
  const lse = Tensor.empty([batch, qHeads, tokens], { device });
  const delta = Tensor.empty([batch, qHeads, tokens], { device });
  const [dq, dk, dv] = [q, k, v].map((t) => Tensor.empty(t.shape, { dtype, device }));
  try {
    const flops = (4 * batch * qHeads * tokens * tokens * dim) / 2; // causal: half of QKᵀ and PV
    const forward = await medianMsAsync(async () => void (await attentionAsync(q, k, v, { out, lse })), repeats);
    report({ id: `attention_fwd T=${tokens}`, ms: forward, tflops: tflops(flops, forward) });
    const backward = await medianMsAsync(() => runOpAsync('attention_backward', { dq, dk, dv, delta, q, k, v, out, lse, dout }), repeats);
    report({ id: `attention_bwd T=${tokens}`, ms: backward, tflops: tflops(2.5 * flops, backward) });
  } finally {
    for (const t of [q, k, v, dout, out, lse, delta, dq, dk, dv]) t.dispose();
  }
}

/** One new query per sequence against a full cache: the bytes of K and V read set the pace. */
async function decode(batch: number, cache: number): Promise<void> {
  const [qHeads, kvHeads, dim] = tiny ? [4, 2, 64] : [32, 8, 128];
  const q = random([batch, qHeads, dim]);
  const k = random([batch, cache, kvHeads, dim]);
  const v = random([batch, cache, kvHeads, dim]);
  const lens = Tensor.from(Int32Array.from({ length: batch }, () => cache), [batch], { device });
  const out = Tensor.empty(q.shape, { dtype, device });
  try {
    const ms = await medianMsAsync(() => runOpAsync('attention_decode', { out, q, kCache: k, vCache: v, cacheLens: lens }), repeats);
    const bytes = 2 * batch * cache * kvHeads * dim * (dtype === 'f32' ? 4 : 2);
    report({ id: `attention_decode B=${batch} cache=${cache}`, ms, gbps: bytes / (ms * 1e-3) / 1e9 });
  } finally {
    for (const t of [q, k, v, lens, out]) t.dispose();
  }
}

function crossEntropy(): void {
  const [t, h, v, chunk] = tiny ? [64, 64, 1000, 16] : [8192, 2560, 151_936, 256];
  const hidden = random([t, h]);
  const weight = random([v, h], 0.02);
  const labels = Int32Array.from({ length: t }, () => Math.floor(Math.random() * v));
  const workspace = Tensor.empty([chunk, v], { device });
  const weightGrad = Tensor.zeros([v, h], { device });
  try {
    const ms = medianMs(() => {
      const r = linearCrossEntropy(hidden, weight, labels, { chunk, workspace, weightGrad, gradScale: 1 / t });
      r.dHidden?.dispose(); // reading the loss back waited for the device
    }, repeats);
    // Forward (logits) and both gradients: three T×V×H products.
    report({ id: `fused_ce T=${t} H=${h} V=${v}`, ms, tflops: tflops(3 * 2 * t * h * v, ms), extraBytes: chunk * v * 4, note: `workspace ${chunk}×V f32; full bf16 logits ${(t * v * 2 / 2 ** 20).toFixed(0)} MiB` });
  } finally {
    for (const x of [hidden, weight, workspace, weightGrad]) x.dispose();
  }
}

function layerOps(): void {
  const tokens = tiny ? 8 : 8192;
  for (const r of benchmarkOps({ device, dtype, tokens, ops: ['matmul', 'rms_norm', 'rope', 'swiglu'], minTimeMs: tiny ? 20 : 200 })) {
    report({ id: `${r.op} ${r.label}`, ms: r.ms, tflops: r.tflops, gbps: r.gbps });
  }
}

function moe(): void {
  const [patches, width, k] = tiny ? [500, 1024, 16] : [40_000, 1024, 16];
  const compressor = randomCompressor({ device, slots: k });
  const x = random([patches, width], 1, 'f32');
  try {
    const ms = medianMs(() => compressor.forward(x, [0, patches]).out.dispose(), repeats); // the aux loss read back waits
    report({ id: `moe_compressor slide=${patches}`, ms, note: `K ${k}, top-2, f32 features` });
  } finally {
    x.dispose();
    compressor.dispose();
  }
}

for (const tokens of tiny ? [64] : [1024, 2048, 4096, 8192]) await attention(tokens);
for (const batch of [1, 16]) await decode(batch, tiny ? 64 : 4096);
crossEntropy();
layerOps();
moe();
