/** Cases of the Qwen3 layer ops: rms_norm, rope, swiglu, embedding (each + backward), adamw, sum_squares, put_rows, fill. */
import type { DType } from '../../../lib/dtype.js';
import { embeddingBackward, rmsNorm, rmsNormBackward, rope, swigluBackward } from '../../../lib/qwen3Ops.js';
import { Tensor } from '../../../lib/tensor.js';
import type { GradientCase, OpCase, Tolerance } from '../harness.js';
import { defaultTolerance } from '../harness.js';
import type { Rng } from '../random.js';

const DTYPES: DType[] = ['f32', 'bf16'];
const EPS = 1e-6;
const THETA = 1_000_000;

// Sums over a row of d f32 terms: a few ulps per term, as for layer_norm.
function rowTolerance(d: number): (dtype: DType) => Tolerance {
  return (dtype) => {
    const base = defaultTolerance(dtype);
    return { ...base, atol: base.atol + 4e-7 * d, normalized: base.normalized + 1e-7 * Math.sqrt(d) };
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const silu = (x: number) => x * sigmoid(x);
const siluGrad = (x: number) => sigmoid(x) * (1 + x * (1 - sigmoid(x)));

function rmsNormRef(x: Float64Array, weight: Float64Array, d: number): { out: Float64Array; rstd: Float64Array } {
  const rows = x.length / d;
  const out = new Float64Array(x.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let squares = 0;
    for (let i = 0; i < d; i++) squares += x[r * d + i] ** 2;
    rstd[r] = 1 / Math.sqrt(squares / d + EPS);
    for (let i = 0; i < d; i++) out[r * d + i] = x[r * d + i] * rstd[r] * weight[i];
  }
  return { out, rstd };
}

/** The rotation as the ops compute its angle: inv_freq and the angle rounded to f32, as transformers does. */
function ropeRef(x: Float64Array, positions: Float64Array, heads: number, d: number, inverse: boolean): Float64Array {
  const half = d / 2;
  const out = new Float64Array(x.length);
  for (let bt = 0; bt < positions.length; bt++) {
    for (let i = 0; i < half; i++) {
      const invFreq = Math.fround(1 / Math.fround(Math.pow(THETA, Math.fround((2 * i) / d))));
      const angle = Math.fround(positions[bt] * invFreq);
      const [c, s] = [Math.cos(angle), (inverse ? -1 : 1) * Math.sin(angle)];
      for (let h = 0; h < heads; h++) {
        const base = (bt * heads + h) * d;
        const [a, b] = [x[base + i], x[base + i + half]];
        out[base + i] = a * c - b * s;
        out[base + i + half] = b * c + a * s;
      }
    }
  }
  return out;
}

// Many rows of d = 128 (the q/k norms) and of 2560: the CUDA weight gradient splits them into
// several row chunks, the last one partial.
const NORM_SHAPES: [rows: number, d: number][] = [[1, 1], [33, 128], [7, 1025], [1, 2560], [4099, 128], [531, 2560]];

function rmsNormCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [rows, d] of NORM_SHAPES) {
    for (const dtype of DTYPES) {
      cases.push({
        name: `rms_norm ${dtype} [${rows}, ${d}]`,
        op: 'rms_norm',
        inputs: { x: { shape: [rows, d], dtype, draw: (r) => 3 * r.normal() }, weight: { shape: [d], dtype } },
        outputs: { out: { shape: [rows, d], dtype }, rstd: { shape: [rows] } },
        attrs: { eps: EPS },
        reference: (v) => rmsNormRef(v.x, v.weight, d),
        tolerance: rowTolerance(d),
      });
      for (const withWeight of [true, false]) {
        cases.push({
          name: `rms_norm_backward ${dtype} [${rows}, ${d}] ${withWeight ? 'dweight accumulated' : 'no dweight (frozen)'}`,
          op: 'rms_norm_backward',
          inputs: { x: { shape: [rows, d], dtype }, weight: { shape: [d], dtype }, rstd: { shape: [rows], draw: (r) => 0.5 + r.uniform() }, dy: { shape: [rows, d], dtype } },
          outputs: { dx: { shape: [rows, d], dtype }, ...(withWeight ? { dweight: { shape: [d], initial: true } } : {}) },
          reference: (v) => {
            const dx = new Float64Array(rows * d);
            // dx is a difference of two terms that can cancel (entirely, for d = 1 and |x̂| near
            // 1): its error is measured against their magnitudes.
            const dxScale = new Float64Array(rows * d);
            const dweight = withWeight ? Float64Array.from(v.dweight) : undefined;
            // The sum added to dweight can cancel what it held (for one row, entirely).
            const dweightScale = dweight?.map(Math.abs);
            for (let r = 0; r < rows; r++) {
              let dot = 0;
              let dotMagnitude = 0;
              for (let i = 0; i < d; i++) {
                const term = v.dy[r * d + i] * v.weight[i] * v.x[r * d + i] * v.rstd[r];
                dot += term;
                dotMagnitude += Math.abs(term);
              }
              for (let i = 0; i < d; i++) {
                const xhat = v.x[r * d + i] * v.rstd[r];
                dx[r * d + i] = v.rstd[r] * (v.dy[r * d + i] * v.weight[i] - (xhat * dot) / d);
                dxScale[r * d + i] = v.rstd[r] * (Math.abs(v.dy[r * d + i] * v.weight[i]) + Math.abs(xhat * dotMagnitude) / d);
                if (dweight) {
                  dweight[i] += v.dy[r * d + i] * xhat;
                  dweightScale![i] += Math.abs(v.dy[r * d + i] * xhat);
                }
              }
            }
            const results: Record<string, Float64Array> = { dx, dxScale };
            if (dweight) Object.assign(results, { dweight, dweightScale });
            return results;
          },
          tolerance: rowTolerance(Math.max(d, rows)),
        });
      }
    }
  }
  return cases;
}

// (B, T, H, D) and the first position: not 0 for a step with a cache.
const ROPE_SHAPES: [b: number, t: number, h: number, d: number, start: number][] = [[1, 1, 1, 2, 0], [2, 7, 3, 64, 0], [1, 5, 2, 128, 211], [3, 33, 1, 6, 17]];

function ropeCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [b, t, h, d, start] of ROPE_SHAPES) {
    for (const dtype of DTYPES) {
      for (const inverse of [false, true]) {
        let next = 0;
        // Positions start..start+T−1 per row, shifted by the row index: rows of a batch differ.
        const position = () => start + (next % t) + Math.floor(next++ / t) % b;
        cases.push({
          name: `rope ${dtype} [${b}, ${t}, ${h}, ${d}] from ${start}${inverse ? ' inverse' : ''}`,
          op: 'rope',
          inputs: { x: { shape: [b, t, h, d], dtype }, positions: { shape: [b, t], dtype: 'i32', draw: position } },
          outputs: { out: { shape: [b, t, h, d], dtype } },
          attrs: { theta: THETA, inverse },
          reference: (v) => ({ out: ropeRef(v.x, v.positions, h, d, inverse) }),
          // The angle is f32 (as in transformers): cos/sin of it agree to a few ulps of the angle.
          tolerance: (dt) => (dt === 'f32' ? { atol: 3e-5, rtol: 1e-5, normalized: 1e-5 } : defaultTolerance(dt)),
        });
      }
    }
  }
  return cases;
}

const ELEMENTWISE_SHAPES = [[1], [3, 1025], [4099]];

function swigluCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const shape of ELEMENTWISE_SHAPES) {
    for (const dtype of DTYPES) {
      const draw = (r: Rng) => 4 * r.normal();
      const oneElement = shape.length === 1 && shape[0] === 1;
      const tolerance = (dt: DType) => ({ ...defaultTolerance(dt), normalized: oneElement ? Infinity : defaultTolerance(dt).normalized });
      cases.push({
        name: `swiglu ${dtype} [${shape}]`,
        op: 'swiglu',
        inputs: { gate: { shape, dtype, draw }, up: { shape, dtype } },
        outputs: { out: { shape, dtype } },
        reference: (v) => ({ out: v.gate.map((g, i) => silu(g) * v.up[i]) }),
        tolerance,
      });
      cases.push({
        name: `swiglu_backward ${dtype} [${shape}]`,
        op: 'swiglu_backward',
        inputs: { dy: { shape, dtype }, gate: { shape, dtype, draw }, up: { shape, dtype } },
        outputs: { dgate: { shape, dtype }, dup: { shape, dtype } },
        reference: (v) => ({ dgate: v.gate.map((g, i) => v.dy[i] * v.up[i] * siluGrad(g)), dup: v.gate.map((g, i) => v.dy[i] * silu(g)) }),
        tolerance,
      });
    }
  }
  return cases;
}

const EMBEDDING_SHAPES: [vocab: number, width: number, rows: number][] = [[1, 1, 1], [37, 65, 50], [1000, 7, 3]];

function embeddingCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [vocab, width, rows] of EMBEDDING_SHAPES) {
    const id = (r: Rng) => Math.floor(r.uniform() * vocab);
    for (const dtype of DTYPES) {
      cases.push({
        name: `embedding ${dtype} V ${vocab} H ${width} R ${rows}`,
        op: 'embedding',
        inputs: { table: { shape: [vocab, width], dtype }, ids: { shape: [rows], dtype: 'i32', draw: id } },
        outputs: { out: { shape: [rows, width], dtype } },
        reference: (v) => ({ out: Float64Array.from({ length: rows * width }, (_, k) => v.table[v.ids[Math.floor(k / width)] * width + (k % width)]) }),
      });
      cases.push({
        name: `embedding_backward ${dtype} V ${vocab} H ${width} R ${rows}: repeated ids add, id −1 skipped`,
        op: 'embedding_backward',
        // About one row in eight is −1 (an image position), the rest repeat often when V is small.
        inputs: { dy: { shape: [rows, width], dtype }, ids: { shape: [rows], dtype: 'i32', draw: (r) => (r.uniform() < 0.125 ? -1 : id(r)) } },
        outputs: { dtable: { shape: [vocab, width], initial: true } },
        reference: (v) => {
          const dtable = Float64Array.from(v.dtable);
          v.ids.forEach((i, r) => {
            if (i < 0) return;
            for (let j = 0; j < width; j++) dtable[i * width + j] += v.dy[r * width + j];
          });
          return { dtable };
        },
        tolerance: () => ({ atol: 1e-5 * rows, rtol: 1e-5, normalized: 1e-6 * rows }),
      });
    }
  }
  return cases;
}

const HYPER = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 7, gradScale: 0.25 };

function adamwReference(v: Record<string, Float64Array>, withMaster: boolean): Record<string, Float64Array> {
  const f = Math.fround;
  const [lr, b1, b2, eps, wd, scale] = [f(HYPER.lr), f(HYPER.beta1), f(HYPER.beta2), f(HYPER.eps), f(HYPER.weightDecay), f(HYPER.gradScale)];
  const c1 = 1 - b1 ** HYPER.step;
  const c2 = 1 - b2 ** HYPER.step;
  const start = withMaster ? v.master : v.param;
  const m = v.m.map((mi, i) => b1 * mi + (1 - b1) * scale * v.grad[i]);
  const vv = v.v.map((vi, i) => b2 * vi + (1 - b2) * (scale * v.grad[i]) ** 2);
  const p = start.map((pi, i) => pi - lr * wd * pi - (lr * (m[i] / c1)) / (Math.sqrt(vv[i] / c2) + eps));
  return withMaster ? { param: p, master: p, m, v: vv } : { param: p, m, v: vv };
}

function optimizerCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const shape of [[1], [17, 33], [40000]]) {
    const moment = { shape, initial: true as const, draw: (r: Rng) => 0.1 * r.normal() };
    const second = { shape, initial: true as const, draw: (r: Rng) => 0.01 * r.uniform() };
    cases.push({
      name: `adamw f32 param [${shape}]`,
      op: 'adamw',
      inputs: { grad: { shape } },
      outputs: { param: { shape, initial: true }, m: moment, v: second },
      attrs: HYPER,
      reference: (v) => adamwReference(v, false),
    });
    cases.push({
      name: `adamw bf16 param, f32 master, bf16 grad [${shape}]`,
      op: 'adamw',
      inputs: { grad: { shape, dtype: 'bf16' } },
      outputs: { param: { shape, dtype: 'bf16' }, master: { shape, initial: true }, m: moment, v: second },
      attrs: HYPER,
      reference: (v) => adamwReference(v, true),
    });
    for (const dtype of DTYPES) {
      cases.push({
        name: `sum_squares ${dtype} [${shape}] accumulated`,
        op: 'sum_squares',
        inputs: { x: { shape, dtype } },
        outputs: { out: { shape: [1], initial: true, draw: (r) => 10 * r.uniform() } },
        reference: (v) => ({ out: Float64Array.of(v.out[0] + v.x.reduce((s, x) => s + x * x, 0)) }),
      });
    }
  }
  return cases;
}

function rowCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [targets, width, rows] of [[1, 1, 1], [40, 33, 7], [9, 1025, 9]]) {
    for (const dtype of DTYPES) {
      // Distinct rows: a fixed stride through the targets (coprime with them), from a random start.
      let i = 0;
      let start = -1;
      cases.push({
        name: `put_rows ${dtype} ${rows} of ${targets} rows × ${width}`,
        op: 'put_rows',
        inputs: { x: { shape: [rows, width], dtype }, index: { shape: [rows], dtype: 'i32', draw: (r) => { if (i % rows === 0) start = Math.floor(r.uniform() * targets); return (start + 7 * (i++ % rows)) % targets; } } },
        outputs: { out: { shape: [targets, width], dtype, initial: true } },
        reference: (v) => {
          const out = Float64Array.from(v.out);
          v.index.forEach((t, k) => out.set(v.x.subarray(k * width, (k + 1) * width), t * width));
          return { out };
        },
      });
    }
  }
  for (const dtype of DTYPES) {
    cases.push({
      name: `fill ${dtype} over NaN`,
      op: 'fill',
      inputs: {},
      outputs: { out: { shape: [3, 5], dtype, initial: true, draw: () => NaN } },
      attrs: { value: 0.5 },
      reference: () => ({ out: new Float64Array(15).fill(0.5) }),
    });
  }
  return cases;
}

export const qwen3OpCases: OpCase[] = [...rmsNormCases(), ...ropeCases(), ...swigluCases(), ...embeddingCases(), ...optimizerCases(), ...rowCases()];

function gradientOf(dy: Tensor, shape: readonly number[]): Tensor {
  return Tensor.zeros(shape, { device: dy.device });
}

export const qwen3GradientCases: GradientCase[] = [
  {
    name: 'rms_norm: d/dx and d/dweight',
    params: { x: { shape: [5, 19], draw: (r) => 2 * r.normal() }, weight: { shape: [19] } },
    outShape: [5, 19],
    forward: (p) => rmsNormRef(p.x, p.weight, 19).out,
    backward: (p, dy) => {
      const { rstd } = rmsNorm(p.x, p.weight, { eps: EPS });
      const dWeight = gradientOf(dy, [19]);
      return { x: rmsNormBackward(p.x, p.weight, rstd, dy, { dWeight }), weight: dWeight };
    },
  },
  {
    name: 'rope: d/dx is the inverse rotation',
    params: { x: { shape: [2, 3, 2, 8] } },
    outShape: [2, 3, 2, 8],
    forward: (p) => ropeRef(p.x, Float64Array.of(5, 6, 7, 0, 1, 2), 2, 8, false),
    backward: (_, dy) => {
      using positions = Tensor.from(Int32Array.of(5, 6, 7, 0, 1, 2), [2, 3], { device: dy.device });
      return { x: rope(dy, positions, THETA, { inverse: true }) };
    },
  },
  {
    name: 'swiglu: d/dgate and d/dup',
    params: { gate: { shape: [3, 11], draw: (r) => 3 * r.normal() }, up: { shape: [3, 11] } },
    outShape: [3, 11],
    forward: (p) => p.gate.map((g, i) => silu(g) * p.up[i]),
    backward: (p, dy) => {
      const { dGate, dUp } = swigluBackward(p.gate, p.up, dy);
      return { gate: dGate, up: dUp };
    },
  },
  {
    name: 'embedding: d/dtable scatters',
    params: { table: { shape: [6, 4] } },
    outShape: [5, 4],
    forward: (p) => Float64Array.from({ length: 20 }, (_, k) => p.table[[3, 0, 3, 5, 1][Math.floor(k / 4)] * 4 + (k % 4)]),
    backward: (p, dy) => {
      using ids = Tensor.from(Int32Array.of(3, 0, 3, 5, 1), [5], { device: dy.device });
      const dTable = gradientOf(dy, p.table.shape);
      embeddingBackward(dy, ids, dTable);
      return { table: dTable };
    },
  },
];
