/**
 * Reading datasets of HDF5 feature files as CLAM and TRIDENT write them (`features` [N, D] or
 * [1, N, D], `coords` [N, 2]), through h5wasm (the HDF5 C library compiled to WebAssembly,
 * loaded on first use). The file signature and each dataset's size are checked before reading.
 */
import { resolve } from 'node:path';
import { FormatError } from '../errors.js';
import { openRegularFile } from './fileBytes.js';
import type { StoredTensor } from './storedTensor.js';

type H5Wasm = (typeof import('h5wasm/node'))['default'];

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** HDF5 looks for its signature at 0, 512, 1024, 2048, … (after a user block). */
const FIRST_USER_BLOCK_OFFSET = 512;
/**
 * Compressed datasets may legitimately expand past the file size; cap what one may expand to
 * (1 GiB, 25× a 40 000 × 1024 float32 slide).
 */
const MAX_COMPRESSED_DATASET_BYTES = 1 << 30;
/**
 * What one stored byte of a filtered dataset may stand for: deflate's largest expansion
 * (1032:1, zlib's technical notes). A chunk never written is not stored at all and reads as the
 * fill value, so a file of a few KB can claim gigabytes of zeros; data can only be as large as
 * the file's bytes at this ratio. Shuffle and Fletcher-32 do not expand; the other filters HDF5
 * builds in (szip, n-bit, scale-offset) pack real features far less.
 */
const MAX_EXPANSION_RATIO = 1032;

let h5wasmLoading: Promise<H5Wasm> | undefined;

/** h5wasm, loaded once, with HDF5's error printing replaced by thrown errors. */
function loadH5Wasm(): Promise<H5Wasm> {
  h5wasmLoading ??= import('h5wasm/node').then(async ({ default: h5wasm }) => {
    const module = await h5wasm.ready;
    module.activate_throwing_error_handler();
    return h5wasm;
  });
  return h5wasmLoading;
}

/**
 * The datasets `names` of an HDF5 file that exist there, each as a contiguous tensor
 * (float datasets as F16/F32/F64, integers as I32/I64, other integer types widened to F64).
 * Throws {@link FormatError} naming the file and dataset for a non-HDF5 file, a dataset that is
 * not numeric, or one larger than the file can hold; {@link IoError} when it cannot be read.
 */
export async function readH5Datasets(path: string, names: readonly string[]): Promise<Map<string, StoredTensor>> {
  const fileSize = await checkSignature(path);
  const h5wasm = await loadH5Wasm();
  let file: InstanceType<H5Wasm['File']>;
  try {
    file = new h5wasm.File(resolve(path), 'r');
  } catch (error) {
    throw new FormatError(`${path}: HDF5 file cannot be opened (${hdf5Reason(error)})`, { cause: error });
  }
  try {
    const tensors = new Map<string, StoredTensor>();
    for (const name of names) {
      const dataset = file.get(name);
      if (dataset === null || dataset === undefined) continue;
      if (!(dataset instanceof h5wasm.Dataset)) throw new FormatError(`${path}: ${name} is not a dataset`);
      tensors.set(name, readDataset(dataset, path, name, fileSize));
    }
    return tensors;
  } catch (error) {
    if (error instanceof FormatError) throw error;
    throw new FormatError(`${path}: HDF5 read failed (${hdf5Reason(error)})`, { cause: error });
  } finally {
    file.close();
  }
}

function readDataset(dataset: InstanceType<H5Wasm['Dataset']>, path: string, name: string, fileSize: number): StoredTensor {
  const where = `${path}: dataset ${name}`;
  const meta = dataset.metadata;
  const shape = dataset.shape ?? [];
  const isNumeric = meta.type === 0 || meta.type === 1; // H5T_INTEGER, H5T_FLOAT
  if (!isNumeric) throw new FormatError(`${where} is not numeric`);
  const bytes = shape.reduce((a, b) => a * b, 1) * meta.size;
  const filtered = dataset.filters.length > 0;
  const limit = filtered ? Math.min(MAX_COMPRESSED_DATASET_BYTES, fileSize * MAX_EXPANSION_RATIO) : fileSize;
  if (bytes > limit) {
    const why = filtered
      ? `more than its ${fileSize}-byte file can hold compressed (at most ${MAX_EXPANSION_RATIO}:1, ${MAX_COMPRESSED_DATASET_BYTES} bytes in all): chunks that were never written?`
      : `more than the ${fileSize} bytes of the file: never written?`;
    throw new FormatError(`${where}: shape [${shape}] needs ${bytes} bytes, ${why}`);
  }
  const value = dataset.value;
  if (value instanceof Float32Array) return { dtype: 'F32', shape, data: value };
  if (value instanceof Float64Array) return { dtype: 'F64', shape, data: value };
  if (value instanceof Int32Array) return { dtype: 'I32', shape, data: value };
  if (value instanceof BigInt64Array) return { dtype: 'I64', shape, data: value };
  if (value instanceof Uint16Array && meta.type === 1) return { dtype: 'F16', shape, data: value };
  if (value instanceof BigUint64Array) return { dtype: 'I64', shape, data: new BigInt64Array(value.buffer, value.byteOffset, value.length) };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return { dtype: 'F64', shape, data: Float64Array.from(value as Uint8Array) };
  throw new FormatError(`${where}: unexpected value type`);
}

/** Checks the HDF5 signature (at offset 0 or a power-of-two user-block offset); returns the file size. */
async function checkSignature(path: string): Promise<number> {
  const { handle, size } = await openRegularFile(path);
  try {
    const probe = new Uint8Array(HDF5_SIGNATURE.length);
    for (let offset = 0; offset + probe.length <= size; offset = offset === 0 ? FIRST_USER_BLOCK_OFFSET : offset * 2) {
      await handle.read(probe, 0, probe.length, offset);
      if (HDF5_SIGNATURE.every((b, i) => probe[i] === b)) return size;
    }
    throw new FormatError(`${path}: not an HDF5 file (no HDF5 signature)`);
  } finally {
    await handle.close();
  }
}

/** The innermost reason of an HDF5 error stack ("minor: …" of the last frame), or the message. */
function hdf5Reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const minors = [...message.matchAll(/minor: (.+)/g)].map((m) => m[1].trim());
  return minors.at(-1) ?? message.split('\n')[0];
}
