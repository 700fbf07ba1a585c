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
import { QWEN3_4B } from './qwen3Shapes.js';

/** One benchmark configuration of one op. */
export interface BenchCase {
  op: string;
  /** "mlp_up T=2048" */
  label: string;
  /** The arguments; `tensors` are disposed after the run. */
  args: OpArgs;
  tensors: Tensor[];
  flops?: number;
  bytes?: number;
}

export interface BenchSpec {
  op: string;
  cases(tokens: number, device: Device, dtype: DType): BenchCase[];
}

function random(shape: number[], device: Device, dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.random() * 2 - 1;
  using host = Tensor.from(values, shape, { dtype });
  return device === 'cpu' ? host.to('cpu') : host.to(device);
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
];
