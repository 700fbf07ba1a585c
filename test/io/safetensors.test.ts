import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { float32ToBfloat16 } from '../../lib/dtype.js';
import { openSafetensors, readSafetensors, writeSafetensors } from '../../lib/io/safetensors.js';
import type { StoredTensor } from '../../lib/io/storedTensor.js';
import { tempDir, writeTemp } from './helpers.js';

/** A safetensors file from a header object and data bytes. */
function safetensorsFile(header: unknown, data: Uint8Array, claimedLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  const dir = tempDir();

  it('round-trips every dtype with metadata, atomically', async () => {
    const tensors = new Map<string, StoredTensor>([
      ['a.f32', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) }],
      ['b.bf16', { dtype: 'BF16', shape: [2], data: float32ToBfloat16(new Float32Array([1.5, -2])) }],
      ['c.f16', { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) }],
      ['d.f64', { dtype: 'F64', shape: [], data: new Float64Array([Math.PI]) }],
      ['e.i32', { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 7]) }],
      ['f.i64', { dtype: 'I64', shape: [1], data: new BigInt64Array([-(2n ** 40n)]) }],
      ['g.raw', { dtype: 'F32', shape: [1], data: new Uint8Array(new Float32Array([0.25]).buffer) }],
    ]);
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt' });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const read = await readSafetensors(path);
    expect(read.metadata).toEqual({ format: 'pt' });
    expect([...read.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const back = read.tensors.get(name)!;
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength)).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    // The header is padded to 8 bytes so tensor data is aligned.
    const file = readFileSync(path);
    expect(Number(file.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('refuses a tensor whose data does not match its shape, leaving no file', async () => {
    const path = join(dir, 'bad.safetensors');
    await expect(writeSafetensors(path, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(RangeError);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses lying headers with errors naming the file and tensor', async () => {
    const data = new Uint8Array(16);
    const cases: [string, Uint8Array, RegExp][] = [
      ['huge-header', safetensorsFile({}, data, 10n ** 12n), /header claims 1000000000000 bytes/],
      ['not-json', safetensorsFile({}, data, 3n), /header is not valid JSON/],
      ['outside', safetensorsFile({ w: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, data), /tensor w: data_offsets \[8, 24\] lie outside the 16 bytes/],
      ['mismatch', safetensorsFile({ w: { dtype: 'F32', shape: [1000000, 1000000], data_offsets: [0, 16] } }, data), /tensor w: data_offsets span 16 bytes but shape \[1000000,1000000\] of F32 needs 4000000000000/],
      ['dtype', safetensorsFile({ w: { dtype: 'U8', shape: [16], data_offsets: [0, 16] } }, data), /tensor w: dtype U8 is not supported/],
      [
        'overlap',
        safetensorsFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, data),
        /tensors a and b overlap/,
      ],
      ['short', new Uint8Array(5), /needs 8 bytes at 0 but the file has 5 bytes/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = writeTemp(dir, `${name}.safetensors`, bytes);
      await expect(readSafetensors(path)).rejects.toThrow(FormatError);
      await expect(readSafetensors(path)).rejects.toThrow(new RegExp(`${name}\\.safetensors: .*${message.source}`));
    }
  });

  it('reads one tensor at a time, and writes tensors whose data is fetched when written', async () => {
    const path = join(dir, 'lazy.safetensors');
    const fetched: string[] = [];
    await writeSafetensors(path, {
      a: { dtype: 'F32', shape: [2], data: () => (fetched.push('a'), new Float32Array([1, 2])) },
      b: { dtype: 'BF16', shape: [3], data: async () => (fetched.push('b'), float32ToBfloat16(new Float32Array([3, 4, 5]))) },
    });
    expect(fetched).toEqual(['a', 'b']);
    const file = await openSafetensors(path);
    try {
      expect([...file.entries]).toEqual([
        ['a', { dtype: 'F32', shape: [2], byteLength: 8 }],
        ['b', { dtype: 'BF16', shape: [3], byteLength: 6 }],
      ]);
      expect((await file.read('b')).data).toEqual(float32ToBfloat16(new Float32Array([3, 4, 5])));
      expect((await file.read('a')).data).toEqual(new Float32Array([1, 2]));
      await expect(file.read('c')).rejects.toThrow(`${path}: no tensor named c`);
    } finally {
      await file.close();
    }
    await expect(writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: () => new Float32Array(3) } })).rejects.toThrow(/tensor a has 12 bytes but shape \[2\] of F32 needs 8/);
    expect((await readSafetensors(path)).tensors.get('a')!.data).toEqual(new Float32Array([1, 2])); // the old file stays
  });
});
