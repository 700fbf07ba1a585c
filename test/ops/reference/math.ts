/**
 * Float64 building blocks of the MoE, projector and loss references: erf, GELU, the
 * counter-based random numbers of wsi/counter_rng.h (bit for bit), LayerNorm.
 */

/** erf(x) to ~1e-14: its Taylor series below 2.5, the continued fraction of erfc above. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let t = a;
  for (let n = 80; n >= 1; n--) t = a + n / 2 / t;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / t;
  return Math.sign(x) * (1 - erfc);
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

function counterBits(seed: number, index: number): bigint {
  return mix64(mix64((BigInt(seed) + GOLDEN) & MASK) ^ ((BigInt(index) * GOLDEN) & MASK));
}

/** Uniform in (0, 1], as counter_uniform. */
export function counterUniform(seed: number, index: number): number {
  return (Number(counterBits(seed, index) >> 40n) + 1) / 2 ** 24;
}

/** Standard normal, as counter_normal (in float64: equal to f32 rounding). */
export function counterNormal(seed: number, index: number): number {
  const bits = counterBits(seed, index);
  const u1 = (Number(bits >> 40n) + 1) / 2 ** 24;
  const u2 = Number((bits >> 8n) & 0xffffffn) / 2 ** 24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Whether element i is kept by dropout(p, seed). */
export function dropoutKeeps(seed: number, i: number, p: number): boolean {
  return Math.fround(counterUniform(seed, i)) > Math.fround(p);
}

/** LayerNorm over rows of length c. */
export function layerNorm(x: Float64Array, weight: Float64Array, bias: Float64Array, c: number, eps: number): { out: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const rows = x.length / c;
  const out = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = 0; i < c; i++) m += x[r * c + i];
    m /= c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (x[r * c + i] - m) ** 2;
    const rs = 1 / Math.sqrt(v / c + eps);
    for (let i = 0; i < c; i++) out[r * c + i] = (x[r * c + i] - m) * rs * weight[i] + bias[i];
    mean[r] = m;
    rstd[r] = rs;
  }
  return { out, mean, rstd };
}

/** x (m, k) · wᵀ (n, k) + b (n). */
export function linear(x: Float64Array, w: Float64Array, b: Float64Array | undefined, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
      out[i * n + j] = s;
    }
  }
  return out;
}
