/**
 * Tensors found inside an unpickled value (torch tensors, numpy arrays), collected by name and
 * turned into contiguous {@link StoredTensor}s with every index checked against the storage.
 */
import { FormatError } from '../errors.js';
import { BYTES_PER_ELEMENT, type StoredDtype, type StoredTensor, elementCount, typedElements } from './storedTensor.js';

/** A tensor built while unpickling, not yet copied out of its storage. */
export abstract class PickledTensor {
  /** The tensor as a contiguous row-major {@link StoredTensor}; `file` and `name` label errors. */
  abstract materialize(file: string, name: string): StoredTensor;
}

/** Largest nesting of dicts and lists walked when collecting tensors (the walk recurses). */
const MAX_NESTING = 64;

/**
 * Every tensor inside `value`, by dotted name: dict keys and list indices joined with `.`
 * (`model.layers.0.weight`); a tensor at the top level is named `''`. Non-tensor leaves are
 * skipped. Each dict and list is walked once, however many times the pickle refers to it (a
 * list holding the same list twice, 60 levels deep, would otherwise be 2^60 paths): a shared
 * container's tensors keep the names of the first path to it. A tensor object itself may have
 * several names (tied weights in a state dict).
 */
export function collectPickledTensors(value: unknown, file: string): Map<string, PickledTensor> {
  const found = new Map<string, PickledTensor>();
  const walked = new Set<object>();
  const walk = (node: unknown, name: string, depth: number): void => {
    if (node instanceof PickledTensor) {
      found.set(name, node);
      return;
    }
    if (!(node instanceof Map || Array.isArray(node)) || walked.has(node)) return;
    walked.add(node);
    if (depth > MAX_NESTING) throw new FormatError(`${file}: containers nested deeper than ${MAX_NESTING} levels at ${name}`);
    const child = (key: unknown) => (name === '' ? String(key) : `${name}.${String(key)}`);
    if (node instanceof Map) {
      for (const [key, item] of node) if (typeof key === 'string' || typeof key === 'number') walk(item, child(key), depth + 1);
    } else {
      node.forEach((item, index) => walk(item, child(index), depth + 1));
    }
  };
  walk(value, '', 0);
  return found;
}

/**
 * Bytes of tensors a file may give per byte of its own size. Each tensor is a view of a storage
 * in the file and at most its size, so the views of a state dict add up to about the file; a
 * pickle of a few KB naming one large storage through 100 000 strided views would otherwise
 * copy it 100 000 times.
 */
const MAX_TENSOR_BYTES_PER_FILE_BYTE = 4;

/**
 * The tensors `found` (by name) made contiguous, each tensor object once however many names it
 * has. `fileBytes` is the size of the file they come from: all of them together may hold at most
 * {@link MAX_TENSOR_BYTES_PER_FILE_BYTE} times that (a {@link FormatError} naming the file otherwise).
 */
export function materializeTensors(found: ReadonlyMap<string, PickledTensor>, file: string, fileBytes: number): Map<string, StoredTensor> {
  const budget = MAX_TENSOR_BYTES_PER_FILE_BYTE * fileBytes;
  const done = new Map<PickledTensor, StoredTensor>();
  const tensors = new Map<string, StoredTensor>();
  let total = 0;
  for (const [name, pickled] of found) {
    let tensor = done.get(pickled);
    if (!tensor) {
      tensor = pickled.materialize(file, name);
      total += tensor.data.byteLength;
      if (total > budget) {
        throw new FormatError(`${file}: its tensors hold more than ${budget} bytes, ${MAX_TENSOR_BYTES_PER_FILE_BYTE}× the file's size (many views of the same storage?): refused`);
      }
      done.set(pickled, tensor);
    }
    tensors.set(name, tensor);
  }
  return tensors;
}

/**
 * Copies the strided view (`offset`, `shape`, `strides`, all in elements) of `storage` (raw
 * little-endian `dtype` elements) into a contiguous row-major tensor. Every index the view can
 * reach is checked to lie inside the storage, and a view may not have more elements than its
 * storage (so a lying stride-0 header cannot demand a giant buffer). A contiguous view is
 * returned without copying (it shares `storage`'s memory when aligned).
 */
export function gatherStrided(
  storage: Uint8Array,
  dtype: StoredDtype,
  offset: number,
  shape: number[],
  strides: number[],
  where: string,
): StoredTensor {
  const size = BYTES_PER_ELEMENT[dtype];
  const storageElements = Math.floor(storage.byteLength / size);
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!isCount(offset) || !shape.every(isCount) || !strides.every(isCount) || shape.length !== strides.length) {
    throw new FormatError(`${where}: invalid view (offset ${offset}, shape [${shape}], stride [${strides}])`);
  }
  const count = elementCount(shape);
  if (count === 0) return { dtype, shape, data: typedElements(dtype, new Uint8Array(0)) };
  const last = shape.reduce((sum, n, axis) => sum + (n - 1) * strides[axis], offset);
  if (last >= storageElements) {
    throw new FormatError(`${where}: view (offset ${offset}, shape [${shape}], stride [${strides}]) reaches element ${last} but the storage has ${storageElements}`);
  }
  if (count > storageElements) {
    throw new FormatError(`${where}: view of shape [${shape}] has more elements (${count}) than its storage (${storageElements}); save it with .contiguous()`);
  }
  let contiguous = true;
  for (let axis = shape.length - 1, expected = 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && strides[axis] !== expected) contiguous = false;
    expected *= shape[axis];
  }
  if (contiguous) {
    return { dtype, shape, data: typedElements(dtype, storage.subarray(offset * size, (offset + count) * size)) };
  }
  const source = elementWords(storage, size);
  const target = elementWords(new Uint8Array(count * size), size);
  const index = new Array<number>(shape.length).fill(0);
  let from = offset;
  for (let i = 0; i < count; i++) {
    target[i] = source[from];
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis]++;
      from += strides[axis];
      if (index[axis] < shape[axis]) break;
      from -= index[axis] * strides[axis];
      index[axis] = 0;
    }
  }
  return { dtype, shape, data: typedElements(dtype, new Uint8Array(target.buffer, target.byteOffset, target.byteLength)) };
}

/** The bytes as whole elements of `size` bytes, copied bit for bit (no float canonicalisation). */
function elementWords(bytes: Uint8Array, size: number): Uint16Array | Uint32Array | BigUint64Array {
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const length = Math.floor(aligned.byteLength / size);
  if (size === 2) return new Uint16Array(aligned.buffer, aligned.byteOffset, length);
  if (size === 4) return new Uint32Array(aligned.buffer, aligned.byteOffset, length);
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, length);
}
