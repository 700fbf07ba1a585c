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
];
