/**
 * The op test harness: runs a case of an op on a backend and compares it with the float64
 * reference, on fresh random inputs whose seed every failure prints.
 *
 * - Inputs are drawn in float64 and rounded to their dtype first, so the reference and the
 *   backend see exactly the same numbers.
 * - Each output sits between guard elements; a write out of bounds changes them and fails.
 * - Element-wise |actual − ref| ≤ atol + rtol·|ref|, and the normalized error ‖actual − ref‖ /
 *   ‖ref‖ ≤ normalized: a local error can hide in a mean, a small global drift in a bound.
 * - NaN always fails; an infinite reference must be matched exactly.
 * - Gradient cases compare a backend's backward with central finite differences of the float64
 *   forward.
 */
import { roundTo } from '../../lib/dtype.js';
import type { DType } from '../../lib/dtype.js';
import { info } from '../../lib/info.js';
import type { Device } from '../../lib/native.js';
import { runOp } from '../../lib/ops.js';
import { Tensor } from '../../lib/tensor.js';
import { baseSeed, caseSeed, Rng } from './random.js';

export interface TensorSpec {
  shape: number[];
  /** Default f32. */
  dtype?: DType;
  /** Draws one value. Default: standard normal. */
  draw?: (rng: Rng) => number;
}

export interface Tolerance {
  atol: number;
  rtol: number;
  normalized: number;
}

/** One forward case of one op. */
export interface OpCase {
  name: string;
  op: string;
  inputs: Record<string, TensorSpec>;
  /**
   * Inputs computed in float64 from the drawn ones (and rounded to their dtype), for ops whose
   * inputs must agree, such as a backward reading its forward's output.
   */
  derived?: Record<string, TensorSpec & { compute: (values: Record<string, Float64Array>) => Float64Array }>;
  /** Outputs; `initial` ones are filled with random values first and read by the op (beta, accumulate). */
  outputs: Record<string, TensorSpec & { initial?: boolean }>;
  attrs?: Record<string, number | boolean>;
  /**
   * Float64 results for every output, from the inputs and the initial outputs (as the backend
   * saw them). An entry `<output>Scale` gives the magnitude of the terms behind each element,
   * for the normalized error (see {@link compare}).
   */
  reference(values: Record<string, Float64Array>): Record<string, Float64Array>;
  /** Per output dtype; defaults below. */
  tolerance?: (dtype: DType) => Tolerance;
}

/** One gradient case: a backend's backward against finite differences of a float64 forward. */
export interface GradientCase {
  name: string;
  params: Record<string, TensorSpec>;
  outShape: number[];
  forward(params: Record<string, Float64Array>): Float64Array;
  /** The gradients of Σ dy·forward(params) for each param, computed on `device`. */
  backward(params: Record<string, Tensor>, dy: Tensor): Record<string, Tensor>;
  tolerance?: Tolerance;
}

/** f32 arithmetic vs float64: a few ulps of f32 (2^-24 ≈ 6e-8) per accumulated term, with room. */
const F32_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-5, normalized: 1e-6 };
/** bf16 outputs carry 8 mantissa bits: rounding alone is up to 2^-9 ≈ 2e-3 relative. */
const BF16_TOLERANCE: Tolerance = { atol: 1e-3, rtol: 8e-3, normalized: 4e-3 };
/** f16 outputs carry 11 bits: 2^-12 ≈ 2.4e-4 relative from rounding. */
const F16_TOLERANCE: Tolerance = { atol: 1e-3, rtol: 1e-3, normalized: 5e-4 };

export function defaultTolerance(dtype: DType): Tolerance {
  return dtype === 'bf16' ? BF16_TOLERANCE : dtype === 'f16' ? F16_TOLERANCE : F32_TOLERANCE;
}

/** The backends to check: the CPU always; CUDA listed with whether this machine can run it. */
export function backends(): { device: Device; available: boolean }[] {
  const cuda = info().backends.cuda;
  return [
    { device: 'cpu', available: true },
    { device: 'cuda:0', available: cuda.available },
  ];
}

function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function draw(spec: TensorSpec, rng: Rng): Float64Array {
  const dtype = spec.dtype ?? 'f32';
  const values = new Float64Array(numel(spec.shape));
  for (let i = 0; i < values.length; i++) values[i] = roundTo(dtype, (spec.draw ?? ((r: Rng) => r.normal()))(rng));
  return values;
}

/**
 * Differences between actual and reference values, described; empty when they agree. `scale`,
 * when given, replaces |expected| in the normalized error's denominator: for a sum of terms, the
 * sum of their magnitudes, since rounding errors follow the terms, not a result that cancels to
 * near zero. The element-wise bound always uses |expected|.
 */
export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  scale?: ArrayLike<number>,
): string[] {
  const problems: string[] = [];
  let diffSq = 0;
  let refSq = 0;
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const r = expected[i];
    let bad: boolean;
    if (Number.isNaN(a) || Number.isNaN(r)) bad = true;
    else if (!Number.isFinite(r)) bad = a !== r;
    else {
      bad = !(Math.abs(a - r) <= tol.atol + tol.rtol * Math.abs(r));
      diffSq += (a - r) ** 2;
      refSq += (scale ? scale[i] : r) ** 2;
    }
    if (bad && mismatches++ < 5) problems.push(`[${i}] = ${a}, expected ${r}`);
  }
  if (mismatches > 5) problems.push(`… ${mismatches} elements out of tolerance in all`);
  // Below atol the reference is noise-level, so atol·√n floors the denominator.
  const normalized = Math.sqrt(diffSq) / (Math.sqrt(refSq) + tol.atol * Math.sqrt(expected.length));
  if (refSq > 0 && !(normalized <= tol.normalized)) problems.push(`normalized error ${normalized.toExponential(2)} > ${tol.normalized}`);
  return problems;
}

/** Outputs are allocated with this many guard elements on each side, holding GUARD_VALUE. */
export const GUARD = 67;
const GUARD_VALUE = -1536; // -1.5·2^10: exactly representable in bf16, f16 and f32

/** Guard elements around an output of n elements (laid out as in checkOpCase) that were overwritten. */
export function guardProblems(all: ArrayLike<number>, n: number): string[] {
  const problems: string[] = [];
  for (const [from, to] of [[0, GUARD], [GUARD + n, n + 2 * GUARD]]) {
    for (let i = from; i < to; i++) {
      if (all[i] !== GUARD_VALUE) {
        problems.push(`guard element ${i - GUARD} was overwritten with ${all[i]}`);
        break;
      }
    }
  }
  return problems;
}

/** Runs a forward case on `device`; throws an error naming the case, device and seed on any difference. */
export function checkOpCase(testCase: OpCase, device: Device): void {
  const seed = caseSeed(testCase.name);
  const rng = new Rng(seed);
  const values: Record<string, Float64Array> = {};
  const owned: Tensor[] = [];
  const args: Record<string, Tensor | number | boolean> = { ...testCase.attrs };
  try {
    for (const [name, spec] of Object.entries(testCase.inputs)) {
      values[name] = draw(spec, rng);
      args[name] = track(owned, Tensor.from(values[name], spec.shape, { dtype: spec.dtype ?? 'f32', device }));
    }
    for (const [name, spec] of Object.entries(testCase.derived ?? {})) {
      const dtype = spec.dtype ?? 'f32';
      values[name] = spec.compute(values).map((x) => roundTo(dtype, x));
      args[name] = track(owned, Tensor.from(values[name], spec.shape, { dtype, device }));
    }
    const guarded: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(testCase.outputs)) {
      const dtype = spec.dtype ?? 'f32';
      const n = numel(spec.shape);
      const fill = new Float64Array(n + 2 * GUARD).fill(GUARD_VALUE);
      if (spec.initial) {
        values[name] = draw(spec, rng);
        fill.set(values[name], GUARD);
      }
      guarded[name] = track(owned, Tensor.from(fill, [fill.length], { dtype, device }));
      args[name] = track(owned, guarded[name].narrow(GUARD, GUARD + n).reshape(spec.shape));
    }

    runOp(testCase.op, args);

    const expected = testCase.reference(values);
    const problems: string[] = [];
    for (const [name, spec] of Object.entries(testCase.outputs)) {
      const dtype = spec.dtype ?? 'f32';
      const all = guarded[name].toFloat32();
      const n = numel(spec.shape);
      for (const p of guardProblems(all, n)) problems.push(`${name}: ${p}`);
      const tol = (testCase.tolerance ?? defaultTolerance)(dtype);
      const actual = all.subarray(GUARD, GUARD + n);
      for (const p of compare(actual, expected[name], tol, expected[`${name}Scale`])) problems.push(label(name, p));
    }
    if (problems.length > 0) {
      throw new Error(
        `${testCase.op} "${testCase.name}" on ${device} differs from the float64 reference ` +
          `(seed ${seed}; replay with WSI_TEST_SEED=${baseSeed}):\n  ${problems.join('\n  ')}`,
      );
    }
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Runs a forward case twice on `device` from the same inputs (fresh tensors each time, the same
 * initial outputs) and names the outputs whose bits differ between the runs.
 */
export function irreproducibleOutputs(testCase: OpCase, device: Device): string[] {
  const rng = new Rng(caseSeed(testCase.name));
  const values: Record<string, Float64Array> = {};
  for (const [name, spec] of Object.entries(testCase.inputs)) values[name] = draw(spec, rng);
  for (const [name, spec] of Object.entries(testCase.derived ?? {})) values[name] = spec.compute(values).map((x) => roundTo(spec.dtype ?? 'f32', x));
  for (const [name, spec] of Object.entries(testCase.outputs)) if (spec.initial) values[name] = draw(spec, rng);
  const specs: Record<string, TensorSpec> = { ...testCase.inputs, ...testCase.derived, ...testCase.outputs };
  const run = (): Record<string, Uint32Array> => {
    const owned: Tensor[] = [];
    try {
      const args: Record<string, Tensor | number | boolean> = { ...testCase.attrs };
      for (const [name, spec] of Object.entries(specs)) {
        const data = values[name] ?? new Float64Array(numel(spec.shape));
        args[name] = track(owned, Tensor.from(data, spec.shape, { dtype: spec.dtype ?? 'f32', device }));
      }
      runOp(testCase.op, args);
      // Every dtype widens to f32 exactly, so equal f32 bits are equal bits.
      return Object.fromEntries(Object.keys(testCase.outputs).map((name) => [name, new Uint32Array((args[name] as Tensor).toFloat32().slice().buffer)]));
    } finally {
      for (const t of owned) t.dispose();
    }
  };
  const [first, second] = [run(), run()];
  return Object.keys(testCase.outputs).filter((name) => first[name].some((bits, i) => bits !== second[name][i]));
}

/** Runs a gradient case on `device` against central finite differences of the float64 forward. */
export function checkGradientCase(testCase: GradientCase, device: Device): void {
  const seed = caseSeed(testCase.name);
  const rng = new Rng(seed);
  const params: Record<string, Float64Array> = {};
  const owned: Tensor[] = [];
  try {
    const tensors: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(testCase.params)) {
      params[name] = draw(spec, rng);
      tensors[name] = track(owned, Tensor.from(params[name], spec.shape, { dtype: spec.dtype ?? 'f32', device }));
    }
    const dyValues = draw({ shape: testCase.outShape }, rng);
    const dy = track(owned, Tensor.from(dyValues, testCase.outShape, { device }));

    const gradients = testCase.backward(tensors, dy);
    const problems: string[] = [];
    for (const [name, values] of Object.entries(params)) {
      const got = gradients[name];
      if (!got) {
        problems.push(`no gradient for '${name}'`);
        continue;
      }
      owned.push(got);
      const loss = (): number => {
        const y = testCase.forward(params);
        let sum = 0;
        for (let i = 0; i < y.length; i++) sum += y[i] * dyValues[i];
        return sum;
      };
      const numeric = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const original = values[i];
        const h = 1e-5 * Math.max(1, Math.abs(original)); // float64 central differences: error ~h² and ~eps/h
        values[i] = original + h;
        const up = loss();
        values[i] = original - h;
        const down = loss();
        values[i] = original;
        numeric[i] = (up - down) / (2 * h);
      }
      const tol = testCase.tolerance ?? { atol: 1e-4, rtol: 1e-4, normalized: 1e-5 };
      for (const p of compare(got.toFloat32(), numeric, tol)) problems.push(label(`d${name}`, p));
    }
    if (problems.length > 0) {
      throw new Error(
        `gradient "${testCase.name}" on ${device} differs from finite differences ` +
          `(seed ${seed}; replay with WSI_TEST_SEED=${baseSeed}):\n  ${problems.join('\n  ')}`,
      );
    }
  } finally {
    for (const t of owned) t.dispose();
  }
}

// "out[3] = …" for an element, "out: normalized error …" for the rest.
function label(tensor: string, problem: string): string {
  return problem.startsWith('[') ? `${tensor}${problem}` : `${tensor}: ${problem}`;
}

function track(owned: Tensor[], t: Tensor): Tensor {
  owned.push(t);
  return t;
}
