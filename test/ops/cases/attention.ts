/**
 * Cases of the attention ops: forward and backward against float64 references, and gradients
 * against finite differences. Shapes cover grouped-query ratios 1, 4 and 8, right padding
 * (lengths 0, 1, partial and full), T not a multiple of any tile (1, 33, 70, 127) and at the
 * flash kernels' tile edges (63, 64, 65, 129) and beyond (1000, 2048), head dims 64 and 128 (the
 * tensor-core kernels for bf16 / f16 on CUDA) and small odd ones (the CUDA-core kernels), f32,
 * bf16 and f16.
 */
import type { DType } from '../../../lib/dtype.js';
import { attention, attentionBackward } from '../../../lib/attentionOps.js';
import { Tensor } from '../../../lib/tensor.js';
import type { GradientCase, OpCase, TensorSpec, Tolerance } from '../harness.js';
import { defaultTolerance } from '../harness.js';
import type { AttentionDims } from '../reference/attention.js';
import { attentionBackwardRef, attentionDecodeRef, attentionRef } from '../reference/attention.js';

interface Shape extends AttentionDims {
  /** Valid lengths per sequence; none: no seqLens tensor. */
  lens?: number[];
  causal?: boolean;
  scale?: number;
  /** The dtypes to run it in, when not the list's usual ones. */
  dtypes?: DType[];
}

const FORWARD_SHAPES: Shape[] = [
  { batch: 1, tokens: 1, qHeads: 1, kvHeads: 1, dim: 8 },
  { batch: 2, tokens: 33, qHeads: 4, kvHeads: 1, dim: 64, lens: [33, 17] },
  { batch: 1, tokens: 127, qHeads: 8, kvHeads: 1, dim: 128 },
  { batch: 3, tokens: 70, qHeads: 2, kvHeads: 2, dim: 128, lens: [0, 70, 1] },
  { batch: 2, tokens: 33, qHeads: 8, kvHeads: 2, dim: 5, lens: [20, 33], scale: 0.3 },
  { batch: 2, tokens: 33, qHeads: 4, kvHeads: 4, dim: 64, lens: [9, 33], causal: false },
];

// The cases the flash kernels' tiling makes critical (128 query rows per block over warps of 16,
// 64 keys per tile, split-free decode aside): T around the 64- and 128-row edges, T 1000 and
// 2048 for many key tiles and causal blocks of unequal length, padding inside the last query
// tile, query tiles and whole sequences that are all padding, groups of 1, 4 and 8, D 64 and 128.
// bf16 and f16 only (the kernels' dtypes); every backend runs them, so the heads stay few where
// T is large (the float64 reference is O(T²·D) per head).
const FLASH_SHAPES: Shape[] = [
  { batch: 1, tokens: 1, qHeads: 4, kvHeads: 1, dim: 64 },
  { batch: 2, tokens: 2, qHeads: 2, kvHeads: 2, dim: 128, lens: [2, 1] },
  { batch: 1, tokens: 63, qHeads: 8, kvHeads: 1, dim: 64 },
  { batch: 2, tokens: 64, qHeads: 4, kvHeads: 4, dim: 128, lens: [64, 50] },
  { batch: 1, tokens: 65, qHeads: 4, kvHeads: 1, dim: 128 },
  { batch: 1, tokens: 65, qHeads: 8, kvHeads: 2, dim: 64, lens: [40], causal: false },
  { batch: 1, tokens: 127, qHeads: 2, kvHeads: 2, dim: 64, lens: [127] },
  { batch: 2, tokens: 129, qHeads: 8, kvHeads: 1, dim: 128, lens: [129, 100] },
  { batch: 3, tokens: 200, qHeads: 4, kvHeads: 1, dim: 64, lens: [0, 130, 200] },
  // One dtype each: the float64 reference and the CPU backend take seconds at these T.
  { batch: 1, tokens: 1000, qHeads: 2, kvHeads: 1, dim: 128, dtypes: ['bf16'] },
  { batch: 1, tokens: 2048, qHeads: 1, kvHeads: 1, dim: 64, lens: [2000], dtypes: ['f16'] },
];

/** Input specs: q, k, v of the dtype, and seqLens drawn from the fixed list. */
function inputSpecs(s: Shape, dtype: DType): Record<string, TensorSpec> {
  const specs: Record<string, TensorSpec> = {
    q: { shape: [s.batch, s.tokens, s.qHeads, s.dim], dtype },
    k: { shape: [s.batch, s.tokens, s.kvHeads, s.dim], dtype },
    v: { shape: [s.batch, s.tokens, s.kvHeads, s.dim], dtype },
  };
  if (s.lens) {
    let drawn = 0;
    const lens = s.lens;
    specs.seqLens = { shape: [s.batch], dtype: 'i32', draw: () => lens[drawn++ % lens.length] };
  }
  return specs;
}

function attrs(s: Shape): Record<string, number | boolean> {
  return { causal: s.causal ?? true, ...(s.scale ? { scale: s.scale } : {}) };
}

function describe(s: Shape, dtype: DType): string {
  return (
    `${dtype} B${s.batch} T${s.tokens} Hq${s.qHeads}/Hkv${s.kvHeads} D${s.dim}` +
    `${s.lens ? ` lens [${s.lens}]` : ''}${s.causal === false ? ' non-causal' : ''}${s.scale ? ` scale ${s.scale}` : ''}`
  );
}

// The GPU kernels use __expf (a few ulps, more for large arguments) and sum in another order
// than the CPU: allow ~10 f32 ulps of the result on top of the dtype's rounding. With bf16
// inputs the tensor-core forward (and decode) also rounds each probability to bf16 before P·V (as
// FlashAttention does): up to 2^-9·Σ p_j·|v_j| more, about 2^-9·3 for normal v (a numpy model
// of it over causal T 33–127 stayed under 3.6e-3 beyond rtol).
function attentionTolerance(dtype: DType): Tolerance {
  return dtype === 'f32' ? { atol: 2e-5, rtol: 1e-4, normalized: 1e-5 } : defaultTolerance(dtype);
}
function forwardTolerance(dtype: DType): Tolerance {
  return dtype === 'bf16' ? { ...defaultTolerance(dtype), atol: 6e-3 } : attentionTolerance(dtype);
}

// The backward sums T products per element: like a matmul of inner size T·(Hq/Hkv). With bf16
// inputs the tensor-core backward also rounds p and ds to bf16 before their products (as
// FlashAttention-2 does): each of the `terms` products is off by up to 2^-9 relative, a random
// walk that a numpy model of it (T 33–127, groups 1–8, D 64/128) kept under 0.4e-3·√terms
// beyond rtol; allow 1e-3·√terms.
function backwardTolerance(s: Shape): (dtype: DType) => Tolerance {
  return (dtype) => {
    const base = attentionTolerance(dtype);
    const terms = s.tokens * (s.qHeads / s.kvHeads);
    // f16 keeps 3 more bits than bf16: an eighth of that (a model of it stayed under 0.2e-3·√terms).
    const rounding = dtype === 'bf16' ? 1e-3 * Math.sqrt(terms) : dtype === 'f16' ? 1.25e-4 * Math.sqrt(terms) : 0;
    return { ...base, atol: base.atol + 2e-6 * terms + rounding, normalized: base.normalized + 1e-6 * Math.sqrt(terms) };
  };
}

function forwardCases(): OpCase[] {
  const runs = [
    ...FORWARD_SHAPES.flatMap((s) => (['f32', 'bf16', 'f16'] as DType[]).map((dtype) => ({ s, dtype }))),
    ...FLASH_SHAPES.flatMap((s) => (s.dtypes ?? (['bf16', 'f16'] as DType[])).map((dtype) => ({ s, dtype }))),
  ];
  return runs.map(({ s, dtype }) => ({
    name: `attention ${describe(s, dtype)}`,
    op: 'attention',
    inputs: inputSpecs(s, dtype),
    outputs: { out: { shape: [s.batch, s.tokens, s.qHeads, s.dim], dtype }, lse: { shape: [s.batch, s.qHeads, s.tokens] } },
    attrs: attrs(s),
    reference: (v) => attentionRef(v.q, v.k, v.v, s, { seqLens: v.seqLens, causal: s.causal, scale: s.scale }),
    tolerance: forwardTolerance,
  }));
}

const BACKWARD_SHAPES: Shape[] = [
  { batch: 2, tokens: 70, qHeads: 4, kvHeads: 1, dim: 64, lens: [70, 41] },
  { batch: 2, tokens: 129, qHeads: 4, kvHeads: 1, dim: 128, lens: [129, 100] },
  { batch: 3, tokens: 65, qHeads: 8, kvHeads: 8, dim: 64, lens: [65, 0, 64] },
  { batch: 1, tokens: 63, qHeads: 2, kvHeads: 1, dim: 128, causal: false },
  { batch: 1, tokens: 127, qHeads: 8, kvHeads: 1, dim: 128 },
  { batch: 2, tokens: 33, qHeads: 2, kvHeads: 2, dim: 128, lens: [0, 33] },
  { batch: 1, tokens: 33, qHeads: 8, kvHeads: 2, dim: 7, lens: [30], causal: false },
];

/** The backward op against the float64 gradients, with out and lse from the float64 forward. */
function backwardCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const s of BACKWARD_SHAPES) {
    for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
      const qShape = [s.batch, s.tokens, s.qHeads, s.dim];
      const kvShape = [s.batch, s.tokens, s.kvHeads, s.dim];
      const options = (v: Record<string, Float64Array>) => ({ seqLens: v.seqLens, causal: s.causal, scale: s.scale });
      cases.push({
        name: `attention_backward ${describe(s, dtype)}`,
        op: 'attention_backward',
        // out and lse must be the forward's: derived from q, k, v in float64.
        inputs: { ...inputSpecs(s, dtype), dout: { shape: qShape, dtype } },
        derived: {
          out: { shape: qShape, dtype, compute: (v) => attentionRef(v.q, v.k, v.v, s, options(v)).out },
          lse: { shape: [s.batch, s.qHeads, s.tokens], compute: (v) => attentionRef(v.q, v.k, v.v, s, options(v)).lse },
        },
        outputs: {
          dq: { shape: qShape, dtype },
          dk: { shape: kvShape, dtype },
          dv: { shape: kvShape, dtype },
          delta: { shape: [s.batch, s.qHeads, s.tokens] },
        },
        attrs: attrs(s),
        reference: (v) => {
          const grads = attentionBackwardRef(v.q, v.k, v.v, v.dout, s, options(v), v.out);
          const delta = new Float64Array(s.batch * s.qHeads * s.tokens);
          for (let b = 0; b < s.batch; b++)
            for (let h = 0; h < s.qHeads; h++)
              for (let i = 0; i < s.tokens; i++) {
                const row = ((b * s.tokens + i) * s.qHeads + h) * s.dim;
                let sum = 0;
                for (let d = 0; d < s.dim; d++) sum += v.dout[row + d] * v.out[row + d];
                delta[(b * s.qHeads + h) * s.tokens + i] = sum;
              }
          return { ...grads, delta };
        },
        tolerance: backwardTolerance(s),
      });
    }
  }
  return cases;
}

const DECODE_SHAPES = [
  { batch: 3, slots: 40, qHeads: 8, kvHeads: 1, dim: 128, lens: [40, 1, 0] },
  { batch: 2, slots: 300, qHeads: 4, kvHeads: 1, dim: 64, lens: [257, 300] },
  { batch: 1, slots: 9, qHeads: 2, kvHeads: 2, dim: 5, lens: [7] },
  // Split-K decode (bf16 / f16, D 64 / 128): many splits of 64-key tiles, a group of 8 query heads
  // in one tile, a group of 32 over two, a sequence much shorter than its cache.
  { batch: 1, slots: 4100, qHeads: 16, kvHeads: 2, dim: 128, lens: [4100] },
  { batch: 2, slots: 1000, qHeads: 32, kvHeads: 1, dim: 64, lens: [999, 130] },
];

function decodeCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const s of DECODE_SHAPES) {
    for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
      let drawn = 0;
      cases.push({
        name: `attention_decode ${dtype} B${s.batch} S${s.slots} Hq${s.qHeads}/Hkv${s.kvHeads} D${s.dim} lens [${s.lens}]`,
        op: 'attention_decode',
        inputs: {
          q: { shape: [s.batch, s.qHeads, s.dim], dtype },
          kCache: { shape: [s.batch, s.slots, s.kvHeads, s.dim], dtype },
          vCache: { shape: [s.batch, s.slots, s.kvHeads, s.dim], dtype },
          cacheLens: { shape: [s.batch], dtype: 'i32', draw: () => s.lens[drawn++ % s.lens.length] },
        },
        outputs: { out: { shape: [s.batch, s.qHeads, s.dim], dtype } },
        reference: (v) => ({ out: attentionDecodeRef(v.q, v.kCache, v.vCache, v.cacheLens, s) }),
        // The split-K decode rounds P to the dtype before P·V, as the forward does.
        tolerance: forwardTolerance,
      });
    }
  }
  return cases;
}

export const attentionOpCases: OpCase[] = [...forwardCases(), ...backwardCases(), ...decodeCases()];

/** Small shapes: finite differences need two float64 forwards per input element. */
const GRADIENT_SHAPES: Shape[] = [
  { batch: 2, tokens: 7, qHeads: 8, kvHeads: 1, dim: 4, lens: [7, 4] },
  { batch: 1, tokens: 9, qHeads: 4, kvHeads: 1, dim: 8 },
  { batch: 2, tokens: 5, qHeads: 2, kvHeads: 2, dim: 3, lens: [5, 2], causal: false, scale: 0.7 },
];

function gradientCase(s: Shape): GradientCase {
  const qShape = [s.batch, s.tokens, s.qHeads, s.dim];
  const kvShape = [s.batch, s.tokens, s.kvHeads, s.dim];
  const options = { seqLens: s.lens, causal: s.causal, scale: s.scale };
  return {
    name: `attention backward ${describe(s, 'f32')}`,
    params: { q: { shape: qShape }, k: { shape: kvShape }, v: { shape: kvShape } },
    outShape: qShape,
    forward: (p) => attentionRef(p.q, p.k, p.v, s, options).out,
    backward: (p, dy) => {
      using seqLens = s.lens ? Tensor.from(Int32Array.from(s.lens), [s.batch], { device: p.q.device }) : undefined;
      const opts = { seqLens, causal: s.causal, scale: s.scale };
      const { out, lse } = attention(p.q, p.k, p.v, opts);
      try {
        const g = attentionBackward(p.q, p.k, p.v, out, lse, dy, opts);
        return { q: g.dq, k: g.dk, v: g.dv };
      } finally {
        out.dispose();
        lse.dispose();
      }
    },
  };
}

export const attentionGradientCases: GradientCase[] = GRADIENT_SHAPES.map(gradientCase);
