/**
 * A tensor as stored in a file: dtype name, shape and the raw elements, row-major, contiguous,
 * little-endian. The dtype names are the safetensors ones and are used by every reader here.
 */
import { FormatError } from '../errors.js';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, toF16Bits } from '../dtype.js';

/** Element types the readers and writers understand. F16 and BF16 hold raw 16-bit patterns. */
export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64';

/** Elements of a stored tensor: the typed array of its dtype, or its raw bytes. */
export type StoredData = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

/** One tensor read from (or to be written to) a file. `data` holds `shape` product elements. */
export interface StoredTensor {
  dtype: StoredDtype;
  shape: number[];
  data: StoredData;
}

/** Bytes per element of each stored dtype. */
export const BYTES_PER_ELEMENT: Readonly<Record<StoredDtype, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I32: 4,
  I64: 8,
};

/** True when `name` is a {@link StoredDtype}. */
export function isStoredDtype(name: unknown): name is StoredDtype {
  return typeof name === 'string' && Object.hasOwn(BYTES_PER_ELEMENT, name);
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A typed view of `bytes` (little-endian elements of `dtype`) as the array type of that dtype.
 * Copies only when `bytes` is not aligned to the element size.
 */
export function typedElements(dtype: StoredDtype, bytes: Uint8Array): Exclude<StoredData, Uint8Array> {
  const size = BYTES_PER_ELEMENT[dtype];
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  const length = aligned.byteLength / size;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, length);
    case 'F64':
      return new Float64Array(buffer, byteOffset, length);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'I32':
      return new Int32Array(buffer, byteOffset, length);
    case 'I64':
      return new BigInt64Array(buffer, byteOffset, length);
  }
}

/** The raw little-endian bytes of a stored tensor's data (a view, no copy). */
export function storedBytes(data: StoredData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The tensor's elements as float32 (a view when already F32). I64 values beyond 2^53 lose
 * precision, as in any float conversion. `file` and `name` only label errors.
 */
export function toFloat32(tensor: StoredTensor, file: string, name = 'tensor'): Float32Array {
  const data = tensor.data instanceof Uint8Array ? typedElements(tensor.dtype, tensor.data) : tensor.data;
  const expected = elementCount(tensor.shape);
  if (data.length !== expected) {
    throw new FormatError(`${file}: ${name} has ${data.length} elements but shape [${tensor.shape}] needs ${expected}`);
  }
  switch (tensor.dtype) {
    case 'F32':
      return data as Float32Array;
    case 'F16':
      return float16ToFloat32(data as Uint16Array);
    case 'BF16':
      return bfloat16ToFloat32(data as Uint16Array);
    case 'F64':
    case 'I32':
      return Float32Array.from(data as Float64Array | Int32Array);
    case 'I64': {
      const out = new Float32Array(data.length);
      const longs = data as BigInt64Array;
      for (let i = 0; i < longs.length; i++) out[i] = Number(longs[i]);
      return out;
    }
  }
}

/** The floating dtypes a model's weights are stored in. */
export type FloatStoredDtype = 'F32' | 'BF16' | 'F16';

/**
 * The tensor with its elements converted to the floating dtype `dtype` (the same object when it
 * already has it). Widening (BF16 / F16 → F32) is exact; narrowing rounds to nearest even, NaN
 * stays NaN, and F16 overflows to infinity. `file` and `name` only label errors.
 */
export function toFloatDtype(tensor: StoredTensor, dtype: FloatStoredDtype, file: string, name = 'tensor'): StoredTensor {
  if (tensor.dtype === dtype) return tensor;
  const values = toFloat32(tensor, file, name);
  switch (dtype) {
    case 'F32':
      return { dtype, shape: tensor.shape, data: values };
    case 'BF16':
      return { dtype, shape: tensor.shape, data: float32ToBfloat16(values) };
    case 'F16':
      return { dtype, shape: tensor.shape, data: Uint16Array.from(values, toF16Bits) };
  }
}
