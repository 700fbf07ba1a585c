/**
 * Float64 references of the ops, written as plainly as possible: the truth each backend is
 * measured against. Tensors are row-major Float64Arrays.
 */

/** out (M, N) = alpha·op(a)·op(b) + beta·out + bias. */
export function matmulRef(
  a: Float64Array,
  b: Float64Array,
  sizes: { m: number; n: number; k: number; transA: boolean; transB: boolean },
  extra: { alpha?: number; beta?: number; out?: Float64Array; bias?: Float64Array } = {},
): Float64Array {
  const { m, n, k, transA, transB } = sizes;
  const { alpha = 1, beta = 0, out, bias } = extra;
  const result = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[transA ? p * m + i : i * k + p] * b[transB ? j * k + p : p * n + j];
      let value = alpha * sum;
      if (beta !== 0 && out) value += beta * out[i * n + j];
      if (bias) value += bias[j];
      result[i * n + j] = value;
    }
  }
  return result;
}

/** Softmax over rows of length `cols`. */
export function softmaxRef(x: Float64Array, cols: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(row[c] - max);
    for (let c = 0; c < cols; c++) y[r * cols + c] = Math.exp(row[c] - max) / sum;
  }
  return y;
}

/** out[c] = Σ_r x[r, c] (+ out[c]). */
export function sumRowsRef(x: Float64Array, cols: number, initial?: Float64Array): Float64Array {
  const out = initial ? Float64Array.from(initial) : new Float64Array(cols);
  for (let i = 0; i < x.length; i++) out[i % cols] += x[i];
  return out;
}
