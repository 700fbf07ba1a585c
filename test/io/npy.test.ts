import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { readNpy } from '../../lib/io/npy.js';
import { FIXTURES, pickleBytes, ramp, shortString, tempDir, writeTemp } from './helpers.js';

/** A .npy v1 file with the given header dict text and data bytes. */
function npyFile(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const padded = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, ' ') + '\n';
  const preamble = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length & 0xff, padded.length >> 8]);
  const out = new Uint8Array(preamble.length + padded.length + data.length);
  out.set(preamble);
  out.set(new TextEncoder().encode(padded), preamble.length);
  out.set(data, preamble.length + padded.length);
  return out;
}

describe('readNpy', () => {
  const dir = tempDir();

  it('reads a float32 array written by numpy', async () => {
    const t = (await readNpy(join(FIXTURES, 'plain.npy'))).get('')!;
    expect(t.shape).toEqual([3, 1024]);
    expect(t.data).toEqual(ramp(3, 1024));
  });

  it.each(['dict_numpy1.npy', 'dict_numpy2.npy'])('reads the arrays of a pickled dict (%s) through the safe subset', async (name) => {
    const tensors = await readNpy(join(FIXTURES, name));
    expect([...tensors.keys()]).toEqual(['feature']);
    expect(tensors.get('feature')!.shape).toEqual([2, 512]);
    expect(tensors.get('feature')!.data).toEqual(ramp(2, 512));
  });

  it('reads Fortran-ordered arrays in row-major order', async () => {
    const data = new Float64Array([1, 4, 2, 5, 3, 6]); // [[1, 2, 3], [4, 5, 6]] column-major
    const path = writeTemp(dir, 'fortran.npy', npyFile("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", new Uint8Array(data.buffer)));
    expect([...((await readNpy(path)).get('')!.data as Float64Array)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a header claiming 10^12 elements before allocating anything', async () => {
    const path = writeTemp(dir, 'huge.npy', npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", new Uint8Array(64)));
    await expect(readNpy(path)).rejects.toThrow(FormatError);
    await expect(readNpy(path)).rejects.toThrow(/huge\.npy: header claims shape \[1000000,1000000\] \(1000000000000 elements, 4000000000000 bytes\) but the file holds 64 bytes/);
  });

  it('refuses a header length past the end of the file, bad magic and unknown dtypes', async () => {
    const cut = npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }").subarray(0, 20);
    await expect(readNpy(writeTemp(dir, 'cut.npy', cut))).rejects.toThrow(/cut\.npy: \.npy header claims 118 bytes/);
    await expect(readNpy(writeTemp(dir, 'text.npy', 'hello world'))).rejects.toThrow(/text\.npy: not a \.npy file/);
    const big = npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4));
    await expect(readNpy(writeTemp(dir, 'bigendian.npy', big))).rejects.toThrow(/bigendian\.npy: dtype >f4 is not supported/);
    const garbage = npyFile("{'descr': '<f4', 'shape': __import__('os')}");
    await expect(readNpy(writeTemp(dir, 'garbage.npy', garbage))).rejects.toThrow(/garbage\.npy: \.npy header is not a Python dict literal/);
  });

  it('refuses an object array whose pickle names a global off the allow-list', async () => {
    const pickle = pickleBytes(0x80, 3, 0x63, 'posix\nsystem\n', ...shortString('id'), 0x85, 0x52, 0x2e);
    const path = writeTemp(dir, 'evil.npy', npyFile("{'descr': '|O', 'fortran_order': False, 'shape': (), }", pickle));
    await expect(readNpy(path)).rejects.toThrow(`${path}: pickle: refusing global posix.system`);
  });
});
