/** Cases of the basic ops: matmul, add, scale, softmax (+ backward), sum_rows. */
import type { DType } from '../../../lib/dtype.js';
import { linearBackward, runOp, softmaxBackward } from '../../../lib/ops.js';
import type { GradientCase, OpCase, Tolerance } from '../harness.js';
import { defaultTolerance } from '../harness.js';
import { matmulRef, softmaxRef, sumRowsRef } from '../reference.js';
import type { Rng } from '../random.js';

/**
 * Odd sizes on purpose: 1, and sizes that are not multiples of any vector width or tile; few
 * output tiles over a long K, which the CUDA tensor-core kernel splits along K (k 1025: 2
 * slices, k 4099: 8, the last one short).
 */
const MATMUL_SIZES: [m: number, k: number, n: number][] = [
  [1, 1, 1],
  [33, 127, 17],
  [127, 1025, 33],
  [3, 33, 1025],
  [5, 4099, 70],
];

// A dot product of length k in f32 is off by up to about k·2^-24 of Σ|a·b| (≈ √k·|a||b| for
// normal inputs); allow that in atol on top of the output dtype's own rounding. The normalized
// error is taken against that magnitude (the reference's outScale), since a result can cancel to
// near zero while its rounding error follows the terms.
function matmulTolerance(k: number): (dtype: DType) => Tolerance {
  return (dtype) => {
    const base = defaultTolerance(dtype);
    return { ...base, atol: base.atol + 4e-7 * k, normalized: base.normalized + 1e-7 * Math.sqrt(k) };
  };
}

/** The reference result and the magnitude of its terms. */
function matmulWithScale(
  v: Record<string, Float64Array>,
  sizes: { m: number; n: number; k: number; transA: boolean; transB: boolean },
  alpha: number,
  beta: number,
): { out: Float64Array; outScale: Float64Array } {
  const abs = (x?: Float64Array) => x?.map(Math.abs);
  return {
    out: matmulRef(v.a, v.b, sizes, { alpha, beta, out: v.out, bias: v.bias }),
    outScale: matmulRef(abs(v.a)!, abs(v.b)!, sizes, { alpha: Math.abs(alpha), beta: Math.abs(beta), out: abs(v.out), bias: abs(v.bias) }),
  };
}

function matmulCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [m, k, n] of MATMUL_SIZES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const dtype of ['f32', 'bf16'] as DType[]) {
        const withBias = (m + n + Number(transA)) % 2 === 0;
        const accumulate = transA && transB;
        const name = `matmul ${dtype} m${m} k${k} n${n}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}${withBias ? ' +bias' : ''}${accumulate ? ' beta' : ''}`;
        cases.push({
          name,
          op: 'matmul',
          inputs: {
            a: { shape: transA ? [k, m] : [m, k], dtype },
            b: { shape: transB ? [n, k] : [k, n], dtype },
            ...(withBias ? { bias: { shape: [n], dtype } } : {}),
          },
          outputs: { out: { shape: [m, n], dtype, initial: accumulate } },
          attrs: { transA, transB, alpha: accumulate ? 0.75 : 1, beta: accumulate ? -0.5 : 0 },
          reference: (v) => matmulWithScale(v, { m, n, k, transA, transB }, accumulate ? 0.75 : 1, accumulate ? -0.5 : 0),
          tolerance: matmulTolerance(k),
        });
      }
    }
  }
  // Leading dimensions of a fold into M: (2, 5, 33) · (33, 7) → (2, 5, 7); mixed dtypes.
  cases.push({
    name: 'matmul batched a (2, 5, 33) f32 · b bf16 → out bf16',
    op: 'matmul',
    inputs: { a: { shape: [2, 5, 33] }, b: { shape: [33, 7], dtype: 'bf16' } },
    outputs: { out: { shape: [2, 5, 7], dtype: 'bf16' } },
    reference: (v) => matmulWithScale(v, { m: 10, n: 7, k: 33, transA: false, transB: false }, 1, 0),
    tolerance: matmulTolerance(33),
  });
  return cases;
}

/**
 * Sizes that cross the CPU GEMM's blocking (native/cpu/gemm/): its micro-tiles (12 × 32 with
 * AVX-512, 6 × 16 with AVX2, 4 × 16 portable), its blocks of 256 along k and its rounds of 384
 * rows; in every dtype, with each transpose, a bias, and alpha and beta.
 */
const GEMM_BLOCKING_SIZES: [m: number, k: number, n: number][] = [
  [385, 257, 97],
  [13, 520, 33],
];

function gemmBlockingCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [m, k, n] of GEMM_BLOCKING_SIZES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
        const [alpha, beta] = transA === transB ? [1.5, 0.25] : [1, 0];
        cases.push({
          name: `matmul blocking ${dtype} m${m} k${k} n${n}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''} +bias alpha ${alpha} beta ${beta}`,
          op: 'matmul',
          inputs: {
            a: { shape: transA ? [k, m] : [m, k], dtype },
            b: { shape: transB ? [n, k] : [k, n], dtype },
            bias: { shape: [n], dtype },
          },
          outputs: { out: { shape: [m, n], dtype, initial: beta !== 0 } },
          attrs: { transA, transB, alpha, beta },
          reference: (v) => matmulWithScale(v, { m, n, k, transA, transB }, alpha, beta),
          tolerance: matmulTolerance(k),
        });
      }
    }
  }
  return cases;
}

const ELEMENTWISE_SHAPES = [[1], [33], [3, 1025], [4099]];

function elementwiseCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const shape of ELEMENTWISE_SHAPES) {
    for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
      cases.push({
        name: `add ${dtype} [${shape}]`,
        op: 'add',
        inputs: { a: { shape, dtype }, b: { shape, dtype } },
        outputs: { out: { shape, dtype } },
        attrs: { alpha: 2, beta: -0.5 },
        reference: (v) => ({ out: v.a.map((a, i) => 2 * a - 0.5 * v.b[i]) }),
      });
      cases.push({
        name: `scale ${dtype} [${shape}]`,
        op: 'scale',
        inputs: { x: { shape, dtype } },
        outputs: { out: { shape, dtype } },
        attrs: { scale: 0.3 },
        reference: (v) => ({ out: v.x.map((x) => 0.3 * x) }),
      });
    }
  }
  return cases;
}

const ROW_SHAPES: [rows: number, cols: number][] = [
  [1, 1],
  [33, 127],
  [7, 1025],
  [2, 4099],
];

function softmaxCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [rows, cols] of ROW_SHAPES) {
    for (const dtype of ['f32', 'bf16'] as DType[]) {
      cases.push({
        name: `softmax ${dtype} [${rows}, ${cols}] large logits`,
        op: 'softmax',
        // Logits up to ±60: exp overflows in f32 without subtracting the row maximum.
        inputs: { x: { shape: [rows, cols], dtype, draw: (r) => 20 * r.normal() } },
        outputs: { out: { shape: [rows, cols], dtype } },
        reference: (v) => ({ out: softmaxRef(v.x, cols) }),
      });
      cases.push({
        name: `softmax_backward ${dtype} [${rows}, ${cols}]`,
        op: 'softmax_backward',
        inputs: { y: { shape: [rows, cols], dtype, draw: (r) => r.uniform() / cols }, dy: { shape: [rows, cols], dtype } },
        outputs: { dx: { shape: [rows, cols], dtype } },
        reference: (v) => {
          // dx = y·(dy − Σ y·dy) cancels when the row sum is close to dy; dxScale is the size of its terms.
          const dx = new Float64Array(v.y.length);
          const dxScale = new Float64Array(v.y.length);
          for (let r = 0; r < rows; r++) {
            let dot = 0;
            let dotScale = 0;
            for (let c = 0; c < cols; c++) {
              dot += v.y[r * cols + c] * v.dy[r * cols + c];
              dotScale += Math.abs(v.y[r * cols + c] * v.dy[r * cols + c]);
            }
            for (let c = 0; c < cols; c++) {
              dx[r * cols + c] = v.y[r * cols + c] * (v.dy[r * cols + c] - dot);
              dxScale[r * cols + c] = Math.abs(v.y[r * cols + c]) * (Math.abs(v.dy[r * cols + c]) + dotScale);
            }
          }
          return { dx, dxScale };
        },
      });
    }
  }
  return cases;
}

/**
 * Softmax of rows with −∞ entries: every third row entirely −∞ (a fully masked row, whose
 * softmax is 0, not NaN), every fourth entry of the others. The draw counts its calls to know
 * the element: the harness draws each element once, in order, per run.
 */
function maskedSoftmaxCases(): OpCase[] {
  const masked = (row: number, col: number) => row % 3 === 1 || col % 4 === 3;
  return ([[4, 1], [7, 33], [5, 1025]] as const).flatMap(([rows, cols]) =>
    (['f32', 'bf16'] as DType[]).map((dtype): OpCase => {
      let drawn = 0;
      const draw = (r: Rng) => {
        const at = drawn++ % (rows * cols);
        return masked(Math.floor(at / cols), at % cols) ? -Infinity : 5 * r.normal();
      };
      return {
        name: `softmax ${dtype} [${rows}, ${cols}] with −∞ entries and all −∞ rows`,
        op: 'softmax',
        inputs: { x: { shape: [rows, cols], dtype, draw } },
        outputs: { out: { shape: [rows, cols], dtype } },
        reference: (v) => {
          const out = softmaxRef(v.x, cols);
          for (let r = 0; r < rows; r++) if (r % 3 === 1) out.fill(0, r * cols, (r + 1) * cols);
          return { out };
        },
        // The row's Σ exp in f32: rounding grows like √cols (seed 3009611863: 1.03e-6 at 1025).
        tolerance: (dt) => ({ ...defaultTolerance(dt), normalized: defaultTolerance(dt).normalized + 1e-7 * Math.sqrt(cols) }),
      };
    }),
  );
}

function sumRowsCases(): OpCase[] {
  return [
    [1025, 33, false],
    [1, 127, true],
    [9, 4099, true],
  ].map(([rows, cols, accumulate]) => ({
    name: `sum_rows [${rows}, ${cols}]${accumulate ? ' accumulate' : ''}`,
    op: 'sum_rows',
    inputs: { x: { shape: [rows as number, cols as number] } },
    outputs: { out: { shape: [cols as number], initial: accumulate as boolean } },
    attrs: { accumulate: accumulate as boolean },
    reference: (v) => ({ out: sumRowsRef(v.x, cols as number, accumulate ? v.out : undefined) }),
    // A sum of `rows` normal values: f32 error grows like rows·2^-24·Σ|x|.
    tolerance: () => ({ atol: 1e-6 * (rows as number), rtol: 1e-5, normalized: 1e-6 }),
  }));
}

export const basicOpCases: OpCase[] = [...matmulCases(), ...gemmBlockingCases(), ...elementwiseCases(), ...softmaxCases(), ...maskedSoftmaxCases(), ...sumRowsCases()];

export const basicGradientCases: GradientCase[] = [
  {
    name: 'softmax backward [5, 33]',
    params: { x: { shape: [5, 33], draw: (r) => 3 * r.normal() } },
    outShape: [5, 33],
    forward: (p) => softmaxRef(p.x, 33),
    backward: (p, dy) => {
      using y = p.x.reshape([5, 33]);
      runOp('softmax', { out: y, x: p.x }); // y overwrites x's memory: x is not needed again
      return { x: softmaxBackward(y, dy) };
    },
  },
  {
    name: 'linear backward x (2, 3, 13) · W (11, 13)ᵀ + b',
    params: { x: { shape: [2, 3, 13] }, weight: { shape: [11, 13] }, bias: { shape: [11] } },
    outShape: [2, 3, 11],
    forward: (p) => matmulRef(p.x, p.weight, { m: 6, n: 11, k: 13, transA: false, transB: true }, { bias: p.bias }),
    backward: (p, dy) => {
      const g = linearBackward(p.x, p.weight, dy, { bias: true });
      return { x: g.dx, weight: g.dWeight, bias: g.dBias! };
    },
  },
];
