/**
 * Benchmarks of the fused linear cross-entropy and the MoE compressor forward (issue 4).
 *
 *   benchmarks/run-ce-moe.sh                  # cuda:0 when present, else the CPU; then PyTorch
 *   benchmarks/run-ce-moe.sh --device cpu --small   # a quick smoke run on the CPU
 *   python3 benchmarks/torch_baseline.py      # the PyTorch numbers alone
 *
 * Fused CE: T 8192 tokens, hidden 2560, vocab 151 936 (Qwen3-4B), bf16 hidden and LM head, all
 * tokens labelled; forward + dHidden + dWeight. Its extra memory is every buffer the call
 * allocates besides its inputs and outputs (the chunk's f32 logits; the gathered rows when some
 * labels are −100), against the full bf16 logits (T·V·2 bytes); the target is at most 1/8.
 * MoE: 16 slides × 10 000 patches of 1024-d features, K 16, top-2, inference.
 */
import { linearCrossEntropy } from '../lib/crossEntropy.js';
import { info } from '../lib/info.js';
import { MoeCompressor } from '../lib/moe.js';
import type { StateRecord } from '../lib/moe.js';
import type { Device } from '../lib/tensor.js';
import { Tensor } from '../lib/tensor.js';
import { medianMs } from './timing.js';

const args = process.argv.slice(2);
const small = args.includes('--small');
const deviceArg = args.indexOf('--device');
const device: Device = deviceArg >= 0 ? (args[deviceArg + 1] as Device) : info().backends.cuda.available ? 'cuda:0' : 'cpu';

function randomTensor(shape: number[], scale: number, dtype: 'f32' | 'bf16'): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = scale * (Math.random() * 2 - 1);
  return Tensor.from(data, shape, { dtype, device });
}

function benchCrossEntropy(): void {
  const [t, h, v, chunk] = small ? [64, 64, 1000, 16] : [8192, 2560, 151_936, 256];
  const hidden = randomTensor([t, h], 1, 'bf16');
  const weight = randomTensor([v, h], 0.02, 'bf16');
  const labels = Int32Array.from({ length: t }, () => Math.floor(Math.random() * v));
  const workspace = Tensor.empty([chunk, v], { device });
  const weightGrad = Tensor.zeros([v, h], { device });
  let loss = 0;
  const ms = medianMs(() => {
    const r = linearCrossEntropy(hidden, weight, labels, { chunk, workspace, weightGrad, gradScale: 1 / t });
    loss = r.loss / r.count; // reading the loss waits for the device
    r.dHidden?.dispose();
  }, small ? 3 : 5);
  const extra = chunk * v * 4; // all tokens labelled: nothing is gathered
  const fullLogits = t * v * 2;
  console.log(
    `fused CE on ${device}: T ${t} H ${h} V ${v} chunk ${chunk}: ${ms.toFixed(1)} ms (forward + both gradients), ` +
      `mean loss ${loss.toFixed(4)}; extra memory ${(extra / 2 ** 20).toFixed(1)} MiB = ` +
      `${(extra / fullLogits).toFixed(4)} of the full bf16 logits (${(fullLogits / 2 ** 30).toFixed(2)} GiB; target ≤ 0.125)`,
  );
  for (const x of [hidden, weight, workspace, weightGrad]) x.dispose();
}

function benchMoe(): void {
  const [slides, perSlide, width, k] = small ? [2, 500, 1024, 16] : [16, 10_000, 1024, 16];
  const state: Record<string, StateRecord> = {};
  const rand = (shape: number[], scale: number): StateRecord => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * (Math.random() * 2 - 1)),
  });
  state['gate.weight'] = rand([k, width], 0.03);
  state['gate.bias'] = rand([k], 0.1);
  for (let e = 0; e < k; e++) {
    state[`experts.${e}.net.0.weight`] = rand([512, width], 0.03);
    state[`experts.${e}.net.0.bias`] = rand([512], 0.1);
    state[`experts.${e}.net.3.weight`] = rand([width, 512], 0.04);
    state[`experts.${e}.net.3.bias`] = rand([width], 0.1);
    state[`experts.${e}.net.4.weight`] = rand([width], 1);
    state[`experts.${e}.net.4.bias`] = rand([width], 0.1);
  }
  const moe = MoeCompressor.fromStateDict(state, { device });
  const x = randomTensor([slides * perSlide, width], 1, 'f32');
  const offsets = Array.from({ length: slides + 1 }, (_, s) => s * perSlide);
  const ms = medianMs(() => {
    const { out } = moe.forward(x, offsets); // reads the aux loss back: waits for the device
    out.dispose();
  }, small ? 3 : 10);
  console.log(`MoE compressor forward on ${device}: ${slides} slides × ${perSlide} patches, K ${k}, top-2: ${ms.toFixed(2)} ms (target < 1 ms on an H100)`);
  x.dispose();
  moe.dispose();
}

benchCrossEntropy();
benchMoe();
