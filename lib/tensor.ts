/**
 * Tensors over native memory, on the CPU or a CUDA device.
 *
 * ```ts
 * using x = Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const cuda = x.to('cuda:0');       // a copy on the GPU
 * x.toArray();                       // Float32Array over the tensor's own memory (no copy)
 * ```
 *
 * A tensor holds its memory until `dispose()` (or the end of a `using` block); a finalizer frees
 * it if the tensor is garbage-collected first. Arrays returned by `toArray()` keep the memory
 * alive on their own, so they stay valid after `dispose()`.
 */
import { DTYPES, DTYPE_BYTES, fromBf16Bits, fromF16Bits, rawView, toBf16Bits, toF16Bits } from './dtype.js';
import type { AnyTypedArray, DType, TypedArrayFor } from './dtype.js';
import { DisposedError } from './errors.js';
import { native } from './native.js';
import type { Device, NativeTensor } from './native.js';

export type { Device, DType };

/** Where and as what to make a tensor. */
export interface TensorOptions {
  /** Element type. Default: from the array given, else `'f32'`. */
  dtype?: DType;
  /** Default: `'cpu'`. */
  device?: Device;
}

/** Values a tensor can be made from. */
export type TensorData = AnyTypedArray | readonly number[];

export class Tensor {
  #native: NativeTensor | undefined;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;

  /** @internal Wraps a native handle; use the static factories. */
  constructor(handle: NativeTensor) {
    this.#native = handle;
    this.shape = Object.freeze(handle.shape);
    this.dtype = handle.dtype;
    this.device = handle.device;
  }

  /** An uninitialised tensor: its contents are whatever the memory held. */
  static empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkShape(shape, 'shape');
    return new Tensor(native.empty(shape, checkDType(options.dtype ?? 'f32'), checkDevice(options.device ?? 'cpu')));
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
    const dtype = checkDType(options.dtype ?? 'f32');
    const bytes = new Uint8Array(numel(checkShape(shape, 'shape')) * DTYPE_BYTES[dtype]);
    return new Tensor(native.fromBytes(bytes, shape, dtype, checkDevice(options.device ?? 'cpu')));
  }

  /**
   * A tensor holding a copy of `data`, row-major, of the given shape.
   *
   * Numbers (a `number[]`, `Float32Array` or `Float64Array`) are converted to `dtype`, rounding
   * to nearest even for bf16 / f16. A `Uint16Array` is taken as raw bf16 / f16 bits and needs
   * `dtype: 'bf16'` or `'f16'`; an `Int32Array` is i32, a `BigInt64Array` i64.
   */
  static from(data: TensorData, shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkShape(shape, 'shape');
    const dtype = checkDType(options.dtype ?? defaultDType(data));
    const count = numel(shape);
    if (data.length !== count) {
      throw new RangeError(`'data' has ${data.length} elements but shape [${shape.join(', ')}] needs ${count}`);
    }
    return new Tensor(native.fromBytes(encode(data, dtype), shape, dtype, checkDevice(options.device ?? 'cpu')));
  }

  /** Number of elements. */
  get numel(): number {
    return numel(this.shape);
  }

  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** @internal The native handle, for ops. Throws once disposed. */
  get native(): NativeTensor {
    if (!this.#native) throw new DisposedError(`a ${this.describe()} tensor was used after dispose()`);
    return this.#native;
  }

  /**
   * The raw elements as the dtype's typed array (bf16 / f16 as `Uint16Array` bits). On the CPU
   * this is a view of the tensor's own memory — writes through it change the tensor; from a GPU
   * it is a copy.
   */
  toArray<D extends DType = DType>(): TypedArrayFor<D> {
    return rawView(this.native.readBytes(), this.dtype) as TypedArrayFor<D>;
  }

  /** The elements as numbers in a new Float32Array, whatever the floating dtype. */
  toFloat32(): Float32Array {
    const raw = this.toArray();
    switch (this.dtype) {
      case 'f32':
        return Float32Array.from(raw as Float32Array);
      case 'bf16':
        return Float32Array.from(raw as Uint16Array, fromBf16Bits);
      case 'f16':
        return Float32Array.from(raw as Uint16Array, fromF16Bits);
      case 'i32':
        return Float32Array.from(raw as Int32Array);
      case 'i64':
        return Float32Array.from(raw as BigInt64Array, Number);
    }
  }

  /** A copy on `device`. */
  to(device: Device): Tensor {
    return new Tensor(this.native.to(checkDevice(device)));
  }

  /** A view of the same memory with another shape of the same number of elements. */
  reshape(shape: readonly number[]): Tensor {
    checkShape(shape, 'shape');
    if (numel(shape) !== this.numel) {
      throw new RangeError(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]: element counts differ`);
    }
    return new Tensor(this.native.view(shape, 0));
  }

  /** Rows `start` to `end` (exclusive) of the first dimension, as a view of the same memory. */
  narrow(start: number, end: number): Tensor {
    const rows = this.shape[0];
    if (this.shape.length === 0 || !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end) {
      throw new RangeError(`rows [${start}, ${end}) are not within a tensor of shape [${this.shape.join(', ')}]`);
    }
    const rowSize = this.numel / rows || 0;
    return new Tensor(this.native.view([end - start, ...this.shape.slice(1)], start * rowSize));
  }

  /** Releases the memory now (memory viewed by arrays from `toArray()` lives on with them). */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** "bf16[2, 3] on cuda:0" */
  describe(): string {
    return `${this.dtype}[${this.shape.join(', ')}] on ${this.device}`;
  }

  toString(): string {
    return `Tensor(${this.describe()}${this.disposed ? ', disposed' : ''})`;
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function checkShape(shape: readonly number[], name: string): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`'${name}' must be an array of dimension sizes`);
  if (shape.length > 8) throw new RangeError(`'${name}' has ${shape.length} dimensions; at most 8`);
  shape.forEach((d, i) => {
    if (typeof d !== 'number') throw new TypeError(`'${name}[${i}]' must be a number`);
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`'${name}[${i}]' must be a non-negative integer, got ${d}`);
  });
  return shape;
}

function checkDType(dtype: DType): DType {
  if (typeof dtype !== 'string') throw new TypeError(`'dtype' must be a string`);
  if (!DTYPES.includes(dtype)) throw new RangeError(`'dtype' must be one of ${DTYPES.join(', ')}; got '${dtype}'`);
  return dtype;
}

function checkDevice(device: Device): Device {
  if (typeof device !== 'string') throw new TypeError(`'device' must be a string`);
  if (!/^(cpu|cuda:\d{1,3})$/.test(device)) throw new RangeError(`'device' must be 'cpu' or 'cuda:N'; got '${device}'`);
  return device;
}

function defaultDType(data: TensorData): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof BigInt64Array) return 'i64';
  if (data instanceof Uint16Array) throw new TypeError(`'data' is a Uint16Array: say whether it holds bf16 or f16 with 'dtype'`);
  return 'f32';
}

// The bytes of `data` as `dtype`'s elements.
function encode(data: TensorData, dtype: DType): ArrayBufferView {
  if (data instanceof Uint16Array) {
    if (dtype !== 'bf16' && dtype !== 'f16') throw new TypeError(`'data' is a Uint16Array of raw bits: 'dtype' must be bf16 or f16, got ${dtype}`);
    return data;
  }
  if (data instanceof BigInt64Array) {
    if (dtype !== 'i64') throw new TypeError(`'data' is a BigInt64Array: 'dtype' must be i64, got ${dtype}`);
    return data;
  }
  const numbers = data as ArrayLike<number>;
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(numbers);
    case 'bf16':
      return Uint16Array.from(numbers, toBf16Bits);
    case 'f16':
      return Uint16Array.from(numbers, toF16Bits);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(numbers, checkedInteger);
    case 'i64':
      return BigInt64Array.from(numbers, (v) => BigInt(checkedInteger(v)));
  }
}

function checkedInteger(value: number): number {
  if (!Number.isInteger(value)) throw new RangeError(`'data' holds ${value}, which is not an integer`);
  return value;
}
