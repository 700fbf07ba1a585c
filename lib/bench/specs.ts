/**
 * What each op's microbenchmark runs: its arguments at Qwen3-4B shapes, and the work one call
 * does (floating-point operations, or bytes moved for memory-bound ops) to turn time into
 * TFLOP/s or GB/s. An op family adds its specs here.
 */
import type { DType } from '../dtype.js';
import { DTYPE_BYTES } from '../dtype.js';
import type { Device } from '../native.js';
import type { OpArgs } from '../ops.js';
import { Tensor } from '../tensor.js';
import { DEFAULT_CHUNK } from '../crossEntropy.js';
import { randomCompressor } from '../compressorState.js';
import { FEATURE_WIDTH } from '../io/features.js';
import { fill } from '../qwen3Ops.js';
import { QWEN3_4B, defaultPatches } from './qwen3Shapes.js';

/** One benchmark configuration of one op (or of a module made of ops: `run`). */
export interface BenchCase {
  op: string;
  /** "mlp_up T=2048" */
  label: string;
  /** The arguments; `tensors` are disposed after the run. */
  args: OpArgs;
  tensors: Tensor[];
  /** What one call does, when it is more than `runOp(op, args)`. */
  run?: () => void;
  /** The dtype it runs in, when not the one asked for (the compressor runs in f32). */
  dtype?: DType;
  /** Frees what the case made besides `tensors`. */
  release?: () => void;
  flops?: number;
  bytes?: number;
}

/** The benchmarks of one op, or of a module (`uses` then lists the ops it needs on the device). */
export interface BenchSpec {
  op: string;
  uses?: string[];
  cases(tokens: number, device: Device, dtype: DType): BenchCase[];
}

function random(shape: number[], device: Device, dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.random() * 2 - 1;
  using host = Tensor.from(values, shape, { dtype });
  return device === 'cpu' ? host.to('cpu') : host.to(device);
}

function onDevice(data: Int32Array, shape: number[], device: Device): Tensor {
  using host = Tensor.from(data, shape);
  return host.to(device);
}

const { hidden, intermediate, queryHeads, keyValueHeads, headDim, vocab } = QWEN3_4B;

// The projections of one Qwen3-4B layer: x (T, in) · Wᵀ (out, in).
const LINEAR_SHAPES: [label: string, inFeatures: number, outFeatures: number][] = [
  ['qkv_proj', hidden, (queryHeads + 2 * keyValueHeads) * headDim],
  ['o_proj', queryHeads * headDim, hidden],
  ['mlp_gate_up', hidden, 2 * intermediate],
  ['mlp_down', intermediate, hidden],
];

export const BENCH_SPECS: BenchSpec[] = [
  {
    op: 'matmul',
    cases: (tokens, device, dtype) =>
      LINEAR_SHAPES.map(([label, k, n]) => {
        const tensors = [random([tokens, k], device, dtype), random([n, k], device, dtype), random([tokens, n], device, dtype)];
        const [a, b, out] = tensors;
        return { op: 'matmul', label: `${label} T=${tokens}`, args: { out, a, b, transB: true }, tensors, flops: 2 * tokens * k * n };
      }),
  },
  {
    op: 'add',
    cases: (tokens, device, dtype) => {
      const tensors = [0, 1, 2].map(() => random([tokens, hidden], device, dtype));
      const [out, a, b] = tensors;
      return [{ op: 'add', label: `residual T=${tokens}`, args: { out, a, b }, tensors, bytes: 3 * tokens * hidden * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'scale',
    cases: (tokens, device, dtype) => {
      const tensors = [0, 1].map(() => random([tokens, hidden], device, dtype));
      const [out, x] = tensors;
      return [{ op: 'scale', label: `hidden T=${tokens}`, args: { out, x, scale: 0.5 }, tensors, bytes: 2 * tokens * hidden * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'softmax',
    cases: (tokens, device, dtype) => {
      const rows = Math.max(1, Math.floor(tokens / 8)); // vocabulary-wide rows are large: fewer of them
      const tensors = [0, 1].map(() => random([rows, vocab], device, dtype));
      const [out, x] = tensors;
      return [{ op: 'softmax', label: `vocab rows=${rows}`, args: { out, x }, tensors, bytes: 2 * rows * vocab * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'rms_norm',
    cases: (tokens, device, dtype) => {
      const tensors = [random([tokens, hidden], device, dtype), random([tokens], device, 'f32'), random([tokens, hidden], device, dtype), random([hidden], device, dtype)];
      const [out, rstd, x, weight] = tensors;
      return [{ op: 'rms_norm', label: `hidden T=${tokens}`, args: { out, rstd, x, weight }, tensors, bytes: 2 * tokens * hidden * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'rope',
    cases: (tokens, device, dtype) => {
      const positions = Tensor.from(Int32Array.from({ length: tokens }, (_, i) => i), [1, tokens]);
      const tensors = [random([1, tokens, queryHeads, headDim], device, dtype), device === 'cpu' ? positions : positions.to(device)];
      if (device !== 'cpu') positions.dispose();
      const [x, pos] = tensors;
      return [{ op: 'rope', label: `q T=${tokens}`, args: { out: x, x, positions: pos, theta: 1_000_000 }, tensors, bytes: 2 * tokens * queryHeads * headDim * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'swiglu',
    cases: (tokens, device, dtype) => {
      const tensors = [0, 1, 2].map(() => random([tokens, intermediate], device, dtype));
      const [out, gate, up] = tensors;
      return [{ op: 'swiglu', label: `mlp T=${tokens}`, args: { out, gate, up }, tensors, bytes: 3 * tokens * intermediate * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'adamw',
    cases: (_tokens, device, dtype) => {
      // One layer's MLP weights (the op is per parameter tensor; T does not enter).
      const shape = [intermediate, hidden];
      const zeros = () => Tensor.zeros(shape, { device });
      const tensors = [random(shape, device, dtype), random(shape, device, 'f32'), zeros(), zeros(), random(shape, device, 'f32')];
      const [param, master, m, v, grad] = tensors;
      const elementBytes = DTYPE_BYTES[dtype] + 4 * 4 + 3 * 4; // param written; master, m, v read and written; grad read
      return [{ op: 'adamw', label: `mlp weight ${shape.join('×')}`, args: { param, master: dtype === 'f32' ? undefined : master, m, v, grad, lr: 1e-5, step: 10 }, tensors, bytes: intermediate * hidden * elementBytes }];
    },
  },
  {
    op: 'attention',
    cases: (tokens, device, dtype) => {
      // One layer's causal grouped-query attention over one sequence of T tokens.
      const tensors = [
        random([1, tokens, queryHeads, headDim], device, dtype),
        random([1, tokens, keyValueHeads, headDim], device, dtype),
        random([1, tokens, keyValueHeads, headDim], device, dtype),
        random([1, tokens, queryHeads, headDim], device, dtype),
        random([1, queryHeads, tokens], device, 'f32'),
      ];
      const [q, k, v, out, lse] = tensors;
      // q·kᵀ and p·v, each 2·T·T·D per head, half of them masked away.
      return [{ op: 'attention', label: `causal T=${tokens}`, args: { out, lse, q, k, v, causal: true }, tensors, flops: 2 * queryHeads * headDim * tokens * tokens }];
    },
  },
  {
    op: 'attention_decode',
    cases: (tokens, device, dtype) => {
      // One generated token for each of 8 sequences against a cache of 4·T tokens: reading the cache is the cost.
      const [batch, cached] = [8, 4 * tokens];
      const tensors = [
        random([batch, queryHeads, headDim], device, dtype),
        random([batch, cached, keyValueHeads, headDim], device, dtype),
        random([batch, cached, keyValueHeads, headDim], device, dtype),
        random([batch, queryHeads, headDim], device, dtype),
        onDevice(new Int32Array(batch).fill(cached), [batch], device),
      ];
      const [q, kCache, vCache, out, cacheLens] = tensors;
      return [{ op: 'attention_decode', label: `B=${batch} cache=${cached}`, args: { out, q, kCache, vCache, cacheLens }, tensors, bytes: 2 * batch * cached * keyValueHeads * headDim * DTYPE_BYTES[dtype] }];
    },
  },
  {
    op: 'linear_cross_entropy',
    cases: (tokens, device, dtype) => {
      // The LM head and the loss fused, with the gradient of the hidden states (stage 1's step).
      const rows = Math.max(1, Math.floor(tokens / 8)); // every row multiplies the whole vocabulary: fewer rows
      const chunk = Math.min(DEFAULT_CHUNK, rows);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % vocab);
      // The LM head is 389 M weights: one value for all (the time does not depend on them) spares drawing them.
      const weight = Tensor.empty([vocab, hidden], { dtype, device });
      fill(weight, 0.01);
      const tensors = [
        random([rows, hidden], device, dtype),
        weight,
        onDevice(labels, [rows], device),
        Tensor.empty([chunk, vocab], { device }),
        Tensor.empty([1], { device }),
        Tensor.empty([1], { device }),
        random([rows, hidden], device, dtype),
      ];
      const [h, , labelTensor, workspace, loss, count, dhidden] = tensors;
      return [{
        op: 'linear_cross_entropy',
        label: `lm_head rows=${rows}`,
        args: { loss, count, dhidden, hidden: h, weight, labels: labelTensor, workspace, chunk },
        tensors,
        flops: 4 * rows * hidden * vocab, // logits, then dhidden = dlogits·W
      }];
    },
  },
  {
    op: 'moe_compressor',
    uses: ['matmul', 'moe_route', 'moe_slot_mean', 'matmul_bias_gelu', 'layer_norm', 'swap_axes01'],
    cases: (tokens, device) => {
      // The frozen compressor on one slide's patches (f32, as it runs): 16 slots of 1024-d.
      const patches = defaultPatches(device, tokens);
      const compressor = randomCompressor({ device, seed: 1 });
      const x = random([patches, FEATURE_WIDTH], device, 'f32');
      return [{
        op: 'moe_compressor',
        label: `slide of ${patches} patches`,
        dtype: 'f32',
        args: {},
        tensors: [x],
        release: () => compressor.dispose(),
        run: () => compressor.forward(x, [0, patches]).out.dispose(),
        bytes: 2 * patches * FEATURE_WIDTH * 4, // the patches read by the gate and by the slot means
      }];
    },
  },
];
