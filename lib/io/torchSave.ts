/**
 * Writing f32 tensors as PyTorch's `torch.save` does (the zip format of PyTorch ≥ 1.6), so that
 * Python code doing `torch.load(path)` gets a dict of tensors: here, TC-SSA's `moe_best.pt`
 * layout, `{'model_state_dict': {'compressor.gate.weight': tensor, …}}`. The archive holds
 * `<name>/data.pkl` (a protocol-2 pickle that rebuilds each tensor with
 * `torch._utils._rebuild_tensor_v2` from a `FloatStorage` named by a persistent id),
 * `<name>/data/<key>` (each storage's little-endian bytes), `<name>/byteorder` and
 * `<name>/version`, every entry stored (not compressed) with its CRC-32.
 */
import { writeFile, rename } from 'node:fs/promises';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { IoError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** Pickle opcodes used here (Python's pickletools names). */
const OP = { PROTO: 0x80, EMPTY_DICT: 0x7d, MARK: 0x28, BINUNICODE: 0x58, SETITEMS: 0x75, STOP: 0x2e, GLOBAL: 0x63, TUPLE: 0x74, BINPERSID: 0x51, BININT: 0x4a, NEWFALSE: 0x89, EMPTY_TUPLE: 0x29, REDUCE: 0x52 };

class PickleWriter {
  readonly #chunks: number[] = [];
  op(...codes: number[]): this {
    this.#chunks.push(...codes);
    return this;
  }
  text(value: string): this {
    const bytes = new TextEncoder().encode(value);
    this.op(OP.BINUNICODE, ...le32(bytes.length), ...bytes);
    return this;
  }
  global(module: string, name: string): this {
    this.op(OP.GLOBAL, ...new TextEncoder().encode(`${module}\n${name}\n`));
    return this;
  }
  int(value: number): this {
    if (!(Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31)) throw new RangeError(`pickle: ${value} is not a 32-bit integer`);
    this.op(OP.BININT, ...le32(value));
    return this;
  }
  tuple(values: readonly number[]): this {
    this.op(OP.MARK);
    for (const v of values) this.int(v);
    return this.op(OP.TUPLE);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#chunks);
  }
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

/** The pickle of `{outer: {name: tensor}}` (or `{name: tensor}` without `outer`), tensor i in storage `i`. */
function statePickle(entries: readonly [string, readonly number[]][], outer?: string): Uint8Array {
  const p = new PickleWriter().op(OP.PROTO, 2, OP.EMPTY_DICT);
  if (outer !== undefined) p.op(OP.MARK).text(outer).op(OP.EMPTY_DICT);
  p.op(OP.MARK);
  entries.forEach(([name, shape], i) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    p.text(name).global('torch._utils', '_rebuild_tensor_v2').op(OP.MARK);
    p.op(OP.MARK).text('storage').global('torch', 'FloatStorage').text(String(i)).text('cpu').int(numel).op(OP.TUPLE, OP.BINPERSID);
    p.int(0).tuple(shape).tuple(strides).op(OP.NEWFALSE).global('collections', 'OrderedDict').op(OP.EMPTY_TUPLE, OP.REDUCE);
    p.op(OP.TUPLE, OP.REDUCE);
  });
  p.op(OP.SETITEMS);
  if (outer !== undefined) p.op(OP.SETITEMS);
  return p.op(OP.STOP).bytes();
}

/** A zip archive of stored entries (no compression, no zip64: each entry and the whole under 4 GiB). */
function storedZip(entries: readonly [string, Uint8Array][]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(data);
    const fields = (signature: number, central: boolean) => {
      const header = Buffer.alloc(central ? 46 : 30);
      header.writeUInt32LE(signature, 0);
      let at = 4;
      if (central) header.writeUInt16LE(20, (at += 2) - 2); // made by
      header.writeUInt16LE(20, at); // version needed
      header.writeUInt16LE(0, at + 2); // flags
      header.writeUInt16LE(0, at + 4); // method: stored
      header.writeUInt32LE(0, at + 6); // time and date
      header.writeUInt32LE(crc, at + 10);
      header.writeUInt32LE(data.length, at + 14);
      header.writeUInt32LE(data.length, at + 18);
      header.writeUInt16LE(nameBytes.length, at + 22);
      if (central) header.writeUInt32LE(offset, 42); // local header offset (comment, disk, attributes: 0)
      return header;
    };
    parts.push(fields(0x04034b50, false), nameBytes, data);
    central.push(fields(0x02014b50, true), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  if (offset + centralSize >= 2 ** 32) throw new RangeError(`the archive would be ${offset + centralSize} bytes: over the 4 GiB of a zip without zip64`);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return [...parts, ...central, end];
}

/**
 * Writes f32 `tensors` (by name) as a `torch.save` file, under `outer` when given (TC-SSA:
 * `model_state_dict`), atomically (a temporary file renamed into place).
 */
export async function writeTorchStateDict(path: string, tensors: ReadonlyMap<string, Tensor>, options: { outer?: string } = {}): Promise<void> {
  const entries = [...tensors].map(([name, t]): [string, readonly number[]] => [name, t.shape]);
  const archive = basename(path).replace(/\.[^.]*$/, '') || 'archive';
  const files: [string, Uint8Array][] = [[`${archive}/data.pkl`, statePickle(entries, options.outer)]];
  [...tensors.values()].forEach((t, i) => {
    const values = t.toFloat32();
    files.push([`${archive}/data/${i}`, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)]);
  });
  files.push([`${archive}/byteorder`, new TextEncoder().encode('little')], [`${archive}/version`, new TextEncoder().encode('3\n')]);
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, storedZip(files));
    await rename(temporary, path);
  } catch (error) {
    throw new IoError(`${path}: could not write the PyTorch file: ${(error as Error).message}`);
  }
}
