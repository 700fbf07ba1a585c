/**
 * Reading `.npy` files (format versions 1–3): a numeric array, or an object array holding a
 * pickled dict of arrays (what `np.save(path, {'feature': …})` writes), unpickled by the
 * safe-subset interpreter. The header is checked against the file size before anything is
 * allocated, so a header claiming 10¹² elements is an error, not an allocation.
 */
import { FormatError } from '../errors.js';
import { readFileBytes } from './fileBytes.js';
import { NUMPY_ALLOW_LIST, numpyArrayTensor, numpyDtype, unwrapObjectArray } from './numpyPickle.js';
import { unpickle } from './pickle.js';
import { collectPickledTensors, materializeTensors } from './pickledTensor.js';
import { BYTES_PER_ELEMENT, type StoredTensor } from './storedTensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy itself refuses headers over 10 000 bytes by default (`max_header_size`); allow ten times that. */
const MAX_HEADER_BYTES = 100_000;

/** The parsed header dict of a `.npy` file. */
interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/**
 * The tensors of a `.npy` file: a numeric array is named `''`; an object array holding a dict
 * gives its arrays by dotted key (`feature`, `coords`, …). Dtypes: little-endian f2/f4/f8/i4/i8.
 * Throws {@link FormatError} naming the file for a bad or lying header, a refused pickle global,
 * or an unsupported dtype; {@link IoError} when the file cannot be read.
 */
export async function readNpy(path: string): Promise<Map<string, StoredTensor>> {
  const bytes = await readFileBytes(path);
  const { header, dataStart } = readHeader(bytes, path);
  const data = bytes.subarray(dataStart);
  if (header.descr.includes('O')) {
    const value = unwrapObjectArray(unpickle(data, { file: path, allow: NUMPY_ALLOW_LIST }));
    const tensors = materializeTensors(collectPickledTensors(value, path), path, bytes.byteLength);
    if (tensors.size === 0) throw new FormatError(`${path}: the pickled object array holds no numeric arrays`);
    return tensors;
  }
  const dtype = numpyDtype(header.descr);
  if (!dtype) throw new FormatError(`${path}: dtype ${header.descr} is not supported (little-endian f2, f4, f8, i4, i8 are)`);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const needed = count * BYTES_PER_ELEMENT[dtype];
  if (needed > data.byteLength) {
    throw new FormatError(`${path}: header claims shape [${header.shape}] (${count} elements, ${needed} bytes) but the file holds ${data.byteLength} bytes of data`);
  }
  const tensor = numpyArrayTensor(data.subarray(0, needed), dtype, header.shape, header.fortranOrder, `${path}: array`);
  return new Map([['', tensor]]);
}

function readHeader(bytes: Uint8Array, path: string): { header: NpyHeader; dataStart: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new FormatError(`${path}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) throw new FormatError(`${path}: .npy format version ${major} is not supported`);
  const lengthStart = 8;
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) throw new FormatError(`${path}: .npy file is truncated inside its header`);
  const headerLength = major === 1 ? view.getUint16(lengthStart, true) : view.getUint32(lengthStart, true);
  if (headerLength > MAX_HEADER_BYTES || headerStart + headerLength > bytes.length) {
    throw new FormatError(`${path}: .npy header claims ${headerLength} bytes but the file has ${bytes.length - headerStart} after the preamble`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  return { header: parseHeader(text, path), dataStart: headerStart + headerLength };
}

/** Reads the header dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. */
function parseHeader(text: string, path: string): NpyHeader {
  let literal: unknown;
  try {
    literal = new PythonLiteral(text).parse();
  } catch (error) {
    throw new FormatError(`${path}: .npy header is not a Python dict literal (${(error as Error).message})`);
  }
  if (!(literal instanceof Map)) throw new FormatError(`${path}: .npy header is not a dict`);
  const descr = literal.get('descr');
  const fortranOrder = literal.get('fortran_order');
  const shape = literal.get('shape');
  if (typeof descr !== 'string') throw new FormatError(`${path}: .npy header descr ${JSON.stringify(descr)} is not supported (structured dtypes are not read)`);
  if (typeof fortranOrder !== 'boolean') throw new FormatError(`${path}: .npy header has no fortran_order`);
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new FormatError(`${path}: .npy header shape ${String(shape)} is not a tuple of sizes`);
  }
  return { descr, fortranOrder, shape: shape as number[] };
}

/** A parser of the Python literals a .npy header uses: dicts, tuples, lists, strings, ints, booleans, None. */
class PythonLiteral {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): unknown {
    const value = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) throw new Error(`unexpected ${JSON.stringify(this.text[this.pos])} at ${this.pos}`);
    return value;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(): unknown {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return new Map(this.sequence('}', () => this.pair()));
    if (c === '(') return this.sequence(')', () => this.value());
    if (c === '[') return this.sequence(']', () => this.value());
    if (c === "'" || c === '"') return this.string(c);
    const word = /^(-?\d+|True|False|None)/.exec(this.text.slice(this.pos));
    if (!word) throw new Error(`unexpected ${JSON.stringify(c ?? 'end')} at ${this.pos}`);
    this.pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0]);
  }

  private pair(): [unknown, unknown] {
    const key = this.value();
    this.skipSpace();
    if (this.text[this.pos++] !== ':') throw new Error(`expected ':' at ${this.pos - 1}`);
    return [key, this.value()];
  }

  /** Items separated by commas (a trailing comma allowed) up to `close`. */
  private sequence<T>(close: string, item: () => T): T[] {
    this.pos++;
    const items: T[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(item());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) throw new Error(`expected ',' or '${close}' at ${this.pos}`);
    }
  }

  private string(quote: string): string {
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) throw new Error('unterminated string');
    const value = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }
}
