/**
 * Dtype facts on the TypeScript side: element sizes, the typed array each dtype reads back as,
 * and bf16 / f16 conversions (round to nearest even, as the native core does).
 */
import type { DType } from './native.js';

export type { DType };

/** The dtypes, in the order the native core knows them. */
export const DTYPES: readonly DType[] = ['f32', 'bf16', 'f16', 'i32', 'i64'];

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, bf16: 2, f16: 2, i32: 4, i64: 8 };

/** The typed array that holds a dtype's raw elements (bf16 and f16 as their 16-bit patterns). */
export type TypedArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : D extends 'i64'
      ? BigInt64Array
      : Uint16Array;

export type AnyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array;

/** A view of the raw elements of `buffer` as `dtype`'s typed array. */
export function rawView(buffer: ArrayBuffer, dtype: DType, byteOffset = 0, length?: number): AnyTypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, byteOffset, length);
    case 'i32':
      return new Int32Array(buffer, byteOffset, length);
    case 'i64':
      return new BigInt64Array(buffer, byteOffset, length);
    case 'bf16':
    case 'f16':
      return new Uint16Array(buffer, byteOffset, length);
  }
}

const scratch = new DataView(new ArrayBuffer(4));

/** f32 → bf16 bits, rounding to nearest even; NaN stays NaN. */
export function toBf16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits → number. */
export function fromBf16Bits(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/** number → f16 bits, rounding to nearest even; overflow goes to infinity. */
export function toF16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    // Subnormal half: a multiple of 2^-24, ties to even.
    const scaled = Math.abs(scratch.getFloat32(0)) * 2 ** 24;
    const floor = Math.floor(scaled);
    const diff = scaled - floor;
    const rounded = diff > 0.5 || (diff === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
    return sign | rounded;
  }
  const rounded = abs + 0xfff + ((abs >>> 13) & 1);
  return sign | (((rounded - 0x38000000) >>> 13) & 0x7fff);
}

/** f16 bits → number. */
export function fromF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Rounds a number to what `dtype` can hold, and back (identity for f32 beyond f32 rounding). */
export function roundTo(dtype: DType, value: number): number {
  switch (dtype) {
    case 'bf16':
      return fromBf16Bits(toBf16Bits(value));
    case 'f16':
      return fromF16Bits(toF16Bits(value));
    case 'f32':
      return Math.fround(value);
    default:
      return Math.trunc(value);
  }
}

// Whole arrays at once, for file readers: f16 through a table of all 65 536 patterns.
const FLOAT16_TABLE_SIZE = 1 << 16;
let float16Table: Float32Array | undefined;

/** Float16 bit patterns [n] → float32 values [n] (exact). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(FLOAT16_TABLE_SIZE);
    for (let b = 0; b < FLOAT16_TABLE_SIZE; b++) float16Table[b] = fromF16Bits(b);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16Table[bits[i]];
  return out;
}

/** Bfloat16 bit patterns [n] → float32 values [n] (exact: the high half of a float32). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** Float32 values [n] → bfloat16 bit patterns [n], rounding to nearest even (NaN stays NaN). */
export function float32ToBfloat16(values: Float32Array): Uint16Array {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w & 0x7fffffff) > 0x7f800000) {
      out[i] = (w >>> 16) | 0x40; // quiet NaN
    } else {
      out[i] = (w + 0x7fff + ((w >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}
