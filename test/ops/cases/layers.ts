/** Cases of the layer ops: gelu (+ backward), layer_norm (+ backward), dropout, matmul_bias_gelu, swap_axes01, gather_rows, scatter_rows. */
import type { DType } from '../../../lib/dtype.js';
import { dropout, geluBackward, layerNorm, layerNormBackward } from '../../../lib/layers.js';
import { projectorBackward, projectorForward } from '../../../lib/projector.js';
import { Tensor } from '../../../lib/tensor.js';
import type { GradientCase, OpCase, Tolerance } from '../harness.js';
import { defaultTolerance } from '../harness.js';
import { dropoutKeeps, gelu, geluGrad, layerNorm as layerNormRef, linear } from '../reference/math.js';

const SHAPES = [[1], [33], [3, 1025], [4099]];
const DTYPES: DType[] = ['f32', 'bf16'];

// With one element the normalized error is that element's relative error, which near a root of
// the function (gelu at 0, gelu' at −0.75, a·w + b ≈ 0) only the element-wise atol can bound.
export function oneElementAware(numel: number, tolerance: (dtype: DType) => Tolerance = defaultTolerance): (dtype: DType) => Tolerance {
  return numel === 1 ? (dtype) => ({ ...tolerance(dtype), normalized: Infinity }) : tolerance;
}

// Sums over a row of c f32 terms: a few ulps per term relative to Σ|x|, as for matmul.
function rowTolerance(c: number): (dtype: DType) => Tolerance {
  return (dtype) => {
    const base = defaultTolerance(dtype);
    return { ...base, atol: base.atol + 4e-7 * c, normalized: base.normalized + 1e-7 * Math.sqrt(c) };
  };
}

function elementwiseCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const shape of SHAPES) {
    for (const dtype of DTYPES) {
      cases.push({
        name: `gelu ${dtype} [${shape}]`,
        op: 'gelu',
        inputs: { x: { shape, dtype, draw: (r) => 3 * r.normal() } },
        outputs: { out: { shape, dtype } },
        reference: (v) => ({ out: v.x.map(gelu) }),
        tolerance: oneElementAware(shape[0] * (shape[1] ?? 1)),
      });
      cases.push({
        name: `gelu_backward ${dtype} [${shape}]`,
        op: 'gelu_backward',
        inputs: { x: { shape, dtype, draw: (r) => 3 * r.normal() }, dy: { shape, dtype } },
        outputs: { dx: { shape, dtype } },
        reference: (v) => ({ dx: v.x.map((x, i) => v.dy[i] * geluGrad(x)) }),
        tolerance: oneElementAware(shape[0] * (shape[1] ?? 1)),
      });
      for (const p of [0.1, 0.5]) {
        cases.push({
          name: `dropout ${dtype} [${shape}] p ${p}`,
          op: 'dropout',
          inputs: { x: { shape, dtype } },
          outputs: { out: { shape, dtype } },
          attrs: { p, seed: 1234567 },
          reference: (v) => ({ out: v.x.map((x, i) => (dropoutKeeps(1234567, i, p) ? x / (1 - Math.fround(p)) : 0)) }),
        });
      }
    }
  }
  return cases;
}

const NORM_SHAPES: [rows: number, c: number][] = [[1, 1], [33, 127], [5, 1025], [1, 4099]];

function layerNormCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [rows, c] of NORM_SHAPES) {
    for (const dtype of DTYPES) {
      cases.push({
        name: `layer_norm ${dtype} [${rows}, ${c}]`,
        op: 'layer_norm',
        // An offset mean: a one-pass variance would lose it.
        inputs: { x: { shape: [rows, c], dtype, draw: (r) => 4 + 2 * r.normal() }, weight: { shape: [c], dtype }, bias: { shape: [c], dtype } },
        outputs: { out: { shape: [rows, c], dtype }, mean: { shape: [rows] }, rstd: { shape: [rows] } },
        attrs: { eps: 1e-5 },
        reference: (v) => layerNormRef(v.x, v.weight, v.bias, c, 1e-5),
        tolerance: rowTolerance(c),
      });
      cases.push({
        name: `layer_norm_backward ${dtype} [${rows}, ${c}] accumulate`,
        op: 'layer_norm_backward',
        inputs: {
          x: { shape: [rows, c], dtype },
          weight: { shape: [c], dtype },
          mean: { shape: [rows] },
          rstd: { shape: [rows], draw: (r) => 0.5 + 1.5 * r.uniform() },
          dy: { shape: [rows, c], dtype },
        },
        outputs: { dx: { shape: [rows, c], dtype }, dweight: { shape: [c], dtype, initial: true }, dbias: { shape: [c], dtype, initial: true } },
        reference: (v) => {
          const dx = new Float64Array(rows * c);
          const dweight = Float64Array.from(v.dweight);
          const dbias = Float64Array.from(v.dbias);
          for (let r = 0; r < rows; r++) {
            let m1 = 0;
            let m2 = 0;
            const xhat = (i: number): number => (v.x[r * c + i] - v.mean[r]) * v.rstd[r];
            for (let i = 0; i < c; i++) {
              const g = v.dy[r * c + i] * v.weight[i];
              m1 += g / c;
              m2 += (g * xhat(i)) / c;
              dweight[i] += v.dy[r * c + i] * xhat(i);
              dbias[i] += v.dy[r * c + i];
            }
            for (let i = 0; i < c; i++) dx[r * c + i] = v.rstd[r] * (v.dy[r * c + i] * v.weight[i] - m1 - xhat(i) * m2);
          }
          return { dx, dweight, dbias };
        },
        tolerance: oneElementAware(rows * c, rowTolerance(Math.max(c, rows))),
      });
    }
  }
  return cases;
}

const GEMM_SIZES: [m: number, k: number, n: number][] = [[1, 1, 1], [33, 127, 17], [16, 1024, 33], [3, 33, 1025]];

function matmulBiasGeluCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [m, k, n] of GEMM_SIZES) {
    for (const dtype of DTYPES) {
      for (const keepPre of [true, false]) {
        cases.push({
          name: `matmul_bias_gelu ${dtype} m${m} k${k} n${n}${keepPre ? ' +pre' : ''}`,
          op: 'matmul_bias_gelu',
          inputs: { a: { shape: [m, k], dtype }, weight: { shape: [n, k], dtype, draw: (r) => r.normal() / Math.sqrt(k) }, bias: { shape: [n], dtype } },
          outputs: { out: { shape: [m, n], dtype }, ...(keepPre ? { pre: { shape: [m, n] } } : {}) },
          reference: (v) => {
            const pre = linear(v.a, v.weight, v.bias, m, n, k);
            return { out: pre.map(gelu), pre };
          },
          tolerance: oneElementAware(m * n, rowTolerance(k)),
        });
      }
    }
  }
  return cases;
}

function rowMoveCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [a, b, d] of [[1, 1, 1], [3, 16, 33], [16, 5, 1025]]) {
    cases.push({
      name: `swap_axes01 [${a}, ${b}, ${d}]`,
      op: 'swap_axes01',
      inputs: { x: { shape: [a, b, d], dtype: 'bf16' } },
      outputs: { out: { shape: [b, a, d], dtype: 'bf16' } },
      reference: (v) => {
        const out = new Float64Array(a * b * d);
        for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let c = 0; c < d; c++) out[(j * a + i) * d + c] = v.x[(i * b + j) * d + c];
        return { out };
      },
    });
  }
  // Distinct rows picked out of t: every third row from 1, and the last one.
  for (const [t, h] of [[1, 7], [37, 33], [100, 257]]) {
    const rows = Array.from({ length: t }, (_, i) => i).filter((i) => i % 3 === 1 || i === t - 1);
    let next = 0;
    const pick = (): number => rows[next++ % rows.length]; // cycles: each run draws the index once
    cases.push({
      name: `gather_rows [${t}, ${h}] → ${rows.length} rows`,
      op: 'gather_rows',
      inputs: { x: { shape: [t, h] }, index: { shape: [rows.length], dtype: 'i32', draw: pick } },
      outputs: { out: { shape: [rows.length, h] } },
      reference: (v) => ({ out: Float64Array.from({ length: rows.length * h }, (_, i) => v.x[v.index[Math.floor(i / h)] * h + (i % h)]) }),
    });
    cases.push({
      name: `scatter_rows ${rows.length} rows → [${t}, ${h}]`,
      op: 'scatter_rows',
      inputs: { x: { shape: [rows.length, h], dtype: 'bf16' }, index: { shape: [rows.length], dtype: 'i32', draw: pick } },
      outputs: { out: { shape: [t, h], dtype: 'bf16', initial: true } },
      reference: (v) => {
        const out = new Float64Array(t * h);
        v.index.forEach((row, i) => out.set(v.x.subarray(i * h, (i + 1) * h), row * h));
        return { out };
      },
    });
  }
  return cases;
}

export const layerOpCases: OpCase[] = [...elementwiseCases(), ...layerNormCases(), ...matmulBiasGeluCases(), ...rowMoveCases()];

export const layerGradientCases: GradientCase[] = [
  {
    name: 'gelu backward [7, 13]',
    params: { x: { shape: [7, 13], draw: (r) => 2 * r.normal() } },
    outShape: [7, 13],
    forward: (p) => p.x.map(gelu),
    backward: (p, dy) => ({ x: geluBackward(p.x, dy) }),
  },
  {
    name: 'layer_norm backward [5, 17]',
    params: { x: { shape: [5, 17] }, weight: { shape: [17] }, bias: { shape: [17] } },
    outShape: [5, 17],
    forward: (p) => layerNormRef(p.x, p.weight, p.bias, 17, 1e-5).out,
    backward: (p, dy) => {
      const { out, saved } = layerNorm(p.x, p.weight, p.bias);
      out.dispose();
      const dWeight = Tensor.zeros([17], { device: p.x.device });
      const dBias = Tensor.zeros([17], { device: p.x.device });
      const dx = layerNormBackward(p.x, p.weight, saved, dy, { dWeight, dBias });
      saved.mean.dispose();
      saved.rstd.dispose();
      return { x: dx, weight: dWeight, bias: dBias };
    },
  },
  {
    name: 'dropout backward p 0.3 [3, 41]',
    params: { x: { shape: [3, 41] } },
    outShape: [3, 41],
    forward: (p) => p.x.map((x, i) => (dropoutKeeps(99, i, 0.3) ? x / (1 - Math.fround(0.3)) : 0)),
    backward: (_p, dy) => ({ x: dropout(dy, 0.3, 99) }),
  },
  {
    name: 'matmul_bias_gelu + projector backward x (2, 3, 9) → 11 → 5',
    params: { x: { shape: [2, 3, 9] }, fc1Weight: { shape: [11, 9] }, fc1Bias: { shape: [11] }, fc2Weight: { shape: [5, 11] }, fc2Bias: { shape: [5] } },
    outShape: [2, 3, 5],
    forward: (p) => linear(linear(p.x, p.fc1Weight, p.fc1Bias, 6, 11, 9).map(gelu), p.fc2Weight, p.fc2Bias, 6, 5, 11),
    backward: (p, dy) => {
      const weights = { fc1Weight: p.fc1Weight, fc1Bias: p.fc1Bias, fc2Weight: p.fc2Weight, fc2Bias: p.fc2Bias };
      const device = p.x.device;
      const grads = {
        fc1Weight: Tensor.zeros([11, 9], { device }),
        fc1Bias: Tensor.zeros([11], { device }),
        fc2Weight: Tensor.zeros([5, 11], { device }),
        fc2Bias: Tensor.zeros([5], { device }),
      };
      const { out, saved } = projectorForward(weights, p.x);
      out.dispose();
      const dx = projectorBackward(weights, saved, dy, grads);
      return { x: dx, ...grads };
    },
  },
];
