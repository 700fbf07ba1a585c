/**
 * Reading and writing `.safetensors` files: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`, then the
 * tensor bytes. Reading checks the header against the file before allocating, and can read one
 * tensor at a time ({@link openSafetensors}); writing goes to a temporary file that is renamed
 * into place, so a crash never leaves a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { FormatError, IoError, WsiVqaError } from '../errors.js';
import { describeFsError, openRegularFile, readFileBytes, readRange } from './fileBytes.js';
import { jsonErrorReason } from './jsonText.js';
import { BYTES_PER_ELEMENT, type StoredData, type StoredDtype, type StoredTensor, elementCount, isStoredDtype, storedBytes, typedElements } from './storedTensor.js';

/** The safetensors format caps its header at 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;
const HEADER_LENGTH_BYTES = 8;
/** Tensor data starts 8-byte aligned: the header is padded with spaces to a multiple of this. */
const HEADER_ALIGNMENT = 8;

/** The content of a safetensors file. */
export interface Safetensors {
  /** Tensors by name, in file order, each contiguous in its stored dtype. */
  tensors: Map<string, StoredTensor>;
  /** The free-form `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

/**
 * Reads every tensor of a safetensors file, as views of one read of the whole file. Dtypes F32,
 * F16, BF16, F64, I32, I64.
 * Throws {@link FormatError} naming the file (and tensor) for a lying header, an offset outside
 * the data, overlapping tensors or an unsupported dtype; {@link IoError} when it cannot be read.
 */
export async function readSafetensors(path: string): Promise<Safetensors> {
  // One read of the whole file (one job off the main thread); the tensors are views of it.
  const bytes = await readFileBytes(path);
  if (bytes.byteLength < HEADER_LENGTH_BYTES) throw new FormatError(`${path}: needs ${HEADER_LENGTH_BYTES} bytes at 0 but the file has ${bytes.byteLength} bytes (truncated?)`);
  const dataStart = dataOffset(bytes.subarray(0, HEADER_LENGTH_BYTES), bytes.byteLength, path);
  const parsed = parseHeader(bytes.subarray(HEADER_LENGTH_BYTES, dataStart), path, bytes.byteLength - dataStart);
  const tensors = new Map<string, StoredTensor>();
  for (const { name, dtype, shape, begin, end } of parsed.tensors) {
    tensors.set(name, { dtype, shape, data: typedElements(dtype, bytes.subarray(dataStart + begin, dataStart + end)) });
  }
  return { tensors, metadata: parsed.metadata };
}

/** Where tensor data starts, from the header length in the file's first 8 bytes, checked against the file. */
function dataOffset(lengthBytes: Uint8Array, fileSize: number, path: string): number {
  const headerLength = new DataView(lengthBytes.buffer, lengthBytes.byteOffset).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - HEADER_LENGTH_BYTES))) {
    throw new FormatError(`${path}: safetensors header claims ${headerLength} bytes but the file has ${fileSize} bytes (limit ${MAX_HEADER_BYTES})`);
  }
  return HEADER_LENGTH_BYTES + Number(headerLength);
}

/** Where one tensor lies in a safetensors file, as its header says (checked against the file). */
export interface SafetensorsEntry {
  dtype: StoredDtype;
  shape: number[];
  /** Bytes of the tensor's data. */
  byteLength: number;
}

/**
 * A safetensors file opened for reading one tensor at a time: the header is parsed and checked
 * up front, tensor bytes are read only when asked for, so a caller can hold one tensor at a time.
 * Close it when done.
 */
export interface SafetensorsFile {
  /** The file's path, as given. */
  readonly path: string;
  /** Tensors by name, in data order (ascending offsets). */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** The free-form `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
  /** The tensor `name`, read from the file into a fresh buffer. Throws `RangeError` for an unknown name. */
  read(name: string): Promise<StoredTensor>;
  /** Closes the file; reads after this fail. */
  close(): Promise<void>;
}

/**
 * Opens a safetensors file and checks its header (same checks and errors as {@link readSafetensors})
 * without reading any tensor data.
 */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const { handle, size: fileSize } = await openRegularFile(path);
  try {
    const lengthBytes = await readAt(handle, path, 0, HEADER_LENGTH_BYTES, fileSize);
    const dataStart = dataOffset(lengthBytes, fileSize, path);
    const headerBytes = await readAt(handle, path, HEADER_LENGTH_BYTES, dataStart - HEADER_LENGTH_BYTES, fileSize);
    const parsed = parseHeader(headerBytes, path, fileSize - dataStart);
    const located = new Map(parsed.tensors.map((entry) => [entry.name, entry]));
    const entries = new Map<string, SafetensorsEntry>(
      parsed.tensors.map(({ name, dtype, shape, begin, end }) => [name, { dtype, shape, byteLength: end - begin }]),
    );
    return {
      path,
      entries,
      metadata: parsed.metadata,
      async read(name: string): Promise<StoredTensor> {
        const entry = located.get(name);
        if (entry === undefined) throw new RangeError(`${path}: no tensor named ${name}`);
        const bytes = await readAt(handle, path, dataStart + entry.begin, entry.end - entry.begin, fileSize);
        return { dtype: entry.dtype, shape: [...entry.shape], data: typedElements(entry.dtype, bytes) };
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

interface HeaderEntry {
  name: string;
  dtype: StoredTensor['dtype'];
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(bytes: Uint8Array, path: string, dataBytes: number): { tensors: HeaderEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new FormatError(`${path}: safetensors header is not UTF-8 text`, { cause: error });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${path}: safetensors header is not valid JSON (${jsonErrorReason(error, text)})`, { cause: error });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new FormatError(`${path}: safetensors header is not a JSON object`);
  const metadata: Record<string, string> = {};
  const tensors: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [key, value] of Object.entries(info ?? {})) {
        if (typeof value !== 'string') throw new FormatError(`${path}: __metadata__.${key} is not a string`);
        metadata[key] = value;
      }
      continue;
    }
    const where = `${path}: tensor ${name}`;
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isStoredDtype(dtype)) throw new FormatError(`${where}: dtype ${String(dtype)} is not supported (F32, F16, BF16, F64, I32, I64 are)`);
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new FormatError(`${where}: shape ${JSON.stringify(shape)} is invalid`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new FormatError(`${where}: data_offsets ${JSON.stringify(offsets)} are invalid`);
    }
    const [begin, end] = offsets as number[];
    const needed = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (end < begin || end > dataBytes) throw new FormatError(`${where}: data_offsets [${begin}, ${end}] lie outside the ${dataBytes} bytes of data`);
    if (end - begin !== needed) throw new FormatError(`${where}: data_offsets span ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${needed}`);
    tensors.push({ name, dtype, shape, begin, end });
  }
  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i].begin < byOffset[i - 1].end) throw new FormatError(`${path}: tensors ${byOffset[i - 1].name} and ${byOffset[i].name} overlap`);
  }
  return { tensors: byOffset, metadata };
}

/**
 * A tensor to write whose bytes may be fetched only when it is written: its dtype and shape are
 * known up front (they go in the header), `data` is the elements or a function that gives them.
 * Writing a large checkpoint from lazy tensors holds one tensor's bytes at a time.
 */
export interface TensorToWrite {
  dtype: StoredDtype;
  shape: number[];
  data: StoredData | (() => StoredData | Promise<StoredData>);
}

/**
 * Writes `tensors` (name → contiguous row-major data in its dtype, or raw little-endian bytes,
 * or a function giving them) and an optional string `metadata` map as a safetensors file,
 * atomically: the bytes go to a temporary file next to `path`, which is flushed and then renamed
 * over `path`. Throws `RangeError` when a tensor's data does not match its shape; {@link IoError}
 * on write failure.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const list: [string, TensorToWrite][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, tensor] of list) {
    const byteLength = elementCount(tensor.shape) * BYTES_PER_ELEMENT[tensor.dtype];
    if (typeof tensor.data !== 'function') checkDataLength(name, tensor, tensor.data);
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const headerBytes = new Uint8Array(HEADER_LENGTH_BYTES + padded).fill(0x20);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(padded), true);
  headerBytes.set(json, HEADER_LENGTH_BYTES);

  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await openForWriting(temporary);
  try {
    await handle.write(headerBytes);
    for (const [name, tensor] of list) {
      const data = typeof tensor.data === 'function' ? await tensor.data() : tensor.data;
      checkDataLength(name, tensor, data);
      await handle.write(storedBytes(data));
    }
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    // Errors of the caller's tensors (a wrong length, a failed conversion) pass through as they are.
    if (error instanceof RangeError || error instanceof WsiVqaError) throw error;
    throw new IoError(`${path}: cannot write safetensors file (${describeFsError(error)})`, { cause: error });
  }
}

function checkDataLength(name: string, tensor: TensorToWrite, data: StoredData): void {
  const byteLength = elementCount(tensor.shape) * BYTES_PER_ELEMENT[tensor.dtype];
  if (data.byteLength !== byteLength) {
    throw new RangeError(`writeSafetensors: tensor ${name} has ${data.byteLength} bytes but shape [${tensor.shape}] of ${tensor.dtype} needs ${byteLength}`);
  }
}

async function openForWriting(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'w');
  } catch (error) {
    throw new IoError(`${path}: cannot write file (${describeFsError(error)})`, { cause: error });
  }
}

/** Exactly `length` bytes at `position` (a fresh, aligned buffer), which must lie in the file. */
async function readAt(handle: FileHandle, path: string, position: number, length: number, fileSize: number): Promise<Uint8Array> {
  if (position + length > fileSize) throw new FormatError(`${path}: needs ${length} bytes at ${position} but the file has ${fileSize} bytes (truncated?)`);
  return readRange(handle, path, position, length);
}
