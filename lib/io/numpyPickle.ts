/**
 * The numpy globals a pickle may name: enough to rebuild plain numeric arrays (as `np.save` of
 * a dict, or `torch.save` of a dict holding arrays, writes them) and numeric scalars. Object
 * arrays and every other numpy global are refused.
 */
import { FormatError } from '../errors.js';
import { type PickleFactory, SET_STATE } from './pickle.js';
import { PickledTensor, gatherStrided } from './pickledTensor.js';
import { type StoredDtype, type StoredTensor, elementCount, typedElements } from './storedTensor.js';

/**
 * The stored dtype of a numpy type string such as `<f4`, `f8`, `|i8` (byte order optional);
 * undefined for anything else (big-endian, unsigned, bool, object, …).
 */
export function numpyDtype(descr: string): StoredDtype | undefined {
  const match = /^([<|=]?)([fi])(\d+)$/.exec(descr);
  if (!match) return undefined;
  const code = `${match[2]}${match[3]}`;
  return ({ f2: 'F16', f4: 'F32', f8: 'F64', i4: 'I32', i8: 'I64' } as Record<string, StoredDtype>)[code];
}

/** A `numpy.dtype` being rebuilt: its type string, and the byte order its state sets. */
class NumpyDtype {
  byteOrder = '<';
  constructor(readonly code: string) {}
  [SET_STATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
  get descr(): string {
    return `${this.byteOrder === '|' || this.byteOrder === '=' ? '<' : this.byteOrder}${this.code}`;
  }
}

/** A numpy array being rebuilt by `_reconstruct` + BUILD. */
class NumpyArray extends PickledTensor {
  private shape: number[] = [];
  private dtype: NumpyDtype | undefined;
  private fortranOrder = false;
  private raw: Uint8Array | undefined;
  /** The items of an object array (`dtype('O')`), which pickles them as a list. */
  objects: unknown[] | undefined;

  [SET_STATE](state: unknown): void {
    if (!Array.isArray(state) || state.length !== 5) throw new Error('unexpected ndarray state');
    const [, shape, dtype, fortranOrder, raw] = state;
    if (!Array.isArray(shape) || !(dtype instanceof NumpyDtype)) throw new Error('unexpected ndarray state');
    if (Array.isArray(raw)) {
      this.objects = raw;
      return;
    }
    if (!(raw instanceof Uint8Array)) throw new Error('unexpected ndarray data');
    this.shape = shape as number[];
    this.dtype = dtype;
    this.fortranOrder = fortranOrder === true;
    this.raw = raw;
  }

  materialize(file: string, name: string): StoredTensor {
    const where = `${file}: array ${name || '(top level)'}`;
    if (this.objects) throw new FormatError(`${where}: numpy array holds Python objects; only numeric arrays are read`);
    if (!this.dtype || !this.raw) throw new FormatError(`${where}: numpy array without data`);
    const dtype = numpyDtype(this.dtype.descr);
    if (!dtype) throw new FormatError(`${where}: numpy dtype ${this.dtype.descr} is not supported (little-endian f2/f4/f8/i4/i8 are)`);
    return numpyArrayTensor(this.raw, dtype, this.shape, this.fortranOrder, where);
  }
}

/**
 * A numpy array's raw bytes (`dtype`, `shape`, C or Fortran order) as a contiguous row-major
 * tensor. The byte count must match the shape exactly.
 */
export function numpyArrayTensor(raw: Uint8Array, dtype: StoredDtype, shape: number[], fortranOrder: boolean, where: string): StoredTensor {
  const strides = new Array<number>(shape.length);
  if (fortranOrder) {
    for (let axis = 0, step = 1; axis < shape.length; axis++) (strides[axis] = step), (step *= shape[axis]);
  } else {
    for (let axis = shape.length - 1, step = 1; axis >= 0; axis--) (strides[axis] = step), (step *= shape[axis]);
  }
  const count = elementCount(shape);
  const tensor = gatherStrided(raw, dtype, 0, shape, strides, where);
  if (tensor.data.length !== count || raw.byteLength !== tensor.data.byteLength) {
    throw new FormatError(`${where}: ${raw.byteLength} bytes of data for shape [${shape}] of ${dtype}`);
  }
  return tensor;
}

/**
 * The value an unpickled object array stands for: its single item when it is 0-d (what
 * `np.save` of a dict writes), its items otherwise; `value` itself when it is not an object array.
 */
export function unwrapObjectArray(value: unknown): unknown {
  if (!(value instanceof NumpyArray) || !value.objects) return value;
  return value.objects.length === 1 ? value.objects[0] : value.objects;
}

/** A numpy scalar (`numpy.core.multiarray.scalar(dtype, bytes)`) as a JS number or bigint. */
function numpyScalar(args: unknown[]): number | bigint {
  const [dtype, raw] = args;
  const stored = dtype instanceof NumpyDtype ? numpyDtype(dtype.descr) : undefined;
  if (!stored || !(raw instanceof Uint8Array)) throw new Error('only numeric numpy scalars are read');
  const value = typedElements(stored, raw)[0];
  if (value === undefined) throw new Error('numpy scalar without data');
  return value;
}

const reconstruct: PickleFactory = () => new NumpyArray();
const refuseCall: PickleFactory = () => {
  throw new Error('numpy.ndarray may only be rebuilt through _reconstruct');
};
const makeDtype: PickleFactory = ([code]) => {
  if (typeof code !== 'string') throw new Error('numpy.dtype needs a type string');
  return new NumpyDtype(code);
};

/** The numpy globals allowed in a pickle, for numpy 1.x (`numpy.core`) and 2.x (`numpy._core`). */
export const NUMPY_ALLOW_LIST: ReadonlyMap<string, PickleFactory> = new Map<string, PickleFactory>([
  ['numpy.core.multiarray._reconstruct', reconstruct],
  ['numpy._core.multiarray._reconstruct', reconstruct],
  ['numpy.core.multiarray.scalar', numpyScalar],
  ['numpy._core.multiarray.scalar', numpyScalar],
  ['numpy.ndarray', refuseCall],
  ['numpy.dtype', makeDtype],
]);
