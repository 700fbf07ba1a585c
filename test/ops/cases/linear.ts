/**
 * Linear-layer cases of matmul beyond the basic sweep: 16-bit inputs with an f32 output (the
 * cuBLASLt path with a wider D), f16 inputs (the tensor-core kernel's other type), shapes that
 * straddle the 64×64×32 tiles, and a bias in the output's dtype as cuBLASLt's epilogue takes it.
 * On CUDA they run on whichever path WSI_VQA_MATMUL selects (cuBLASLt when found, else kernels).
 */
import type { DType } from '../../../lib/dtype.js';
import type { OpCase, Tolerance } from '../harness.js';
import { defaultTolerance } from '../harness.js';
import { matmulRef } from '../reference.js';

const SHAPES: [m: number, k: number, n: number][] = [
  [130, 96, 200],
  [1, 33, 65],
  [65, 1, 64],
  [64, 160, 63],
];

const COMBOS: { input: DType; out: DType }[] = [
  { input: 'bf16', out: 'f32' },
  { input: 'f16', out: 'f16' },
  { input: 'f16', out: 'f32' },
];

// Same reasoning as the basic matmul cases: f32 accumulation over k terms.
function tolerance(k: number): (dtype: DType) => Tolerance {
  return (dtype) => {
    const base = defaultTolerance(dtype);
    return { ...base, atol: base.atol + 4e-7 * k, normalized: base.normalized + 1e-7 * Math.sqrt(k) };
  };
}

function linearCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [m, k, n] of SHAPES) {
    for (const { input, out } of COMBOS) {
      for (const [transA, transB] of [[false, true], [true, false]]) {
        const withBias = !transA;
        cases.push({
          name: `linear ${input}→${out} m${m} k${k} n${n}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}${withBias ? ' +bias' : ''}`,
          op: 'matmul',
          inputs: {
            a: { shape: transA ? [k, m] : [m, k], dtype: input },
            b: { shape: transB ? [n, k] : [k, n], dtype: input },
            ...(withBias ? { bias: { shape: [n], dtype: out } } : {}),
          },
          outputs: { out: { shape: [m, n], dtype: out } },
          attrs: { transA, transB },
          reference: (v) => ({ out: matmulRef(v.a, v.b, { m, n, k, transA, transB }, { bias: v.bias }) }),
          tolerance: tolerance(k),
        });
      }
    }
  }
  return cases;
}

export const linearOpCases: OpCase[] = linearCases();
