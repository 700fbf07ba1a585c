import { describe, expect, it } from 'vitest';
import { firstNonFinite, uninitializedBytes } from '../../lib/io/hostMemory.js';
import { native } from '../../lib/native.js';

/** The reference: the first index whose value is NaN or ±Infinity. */
const reference = (values: Float32Array) => values.findIndex((v) => !Number.isFinite(v));

describe('firstNonFinite (native scan where the addon has it)', () => {
  it('finds NaN and ±Infinity at every position that matters, and passes -0, denormals and the largest floats', () => {
    const seed = Number(process.env.WSI_TEST_SEED ?? Date.now() % 100_000);
    console.log(`firstNonFinite seed ${seed} (WSI_TEST_SEED replays)`);
    let state = seed;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const length of [0, 1, 7, 4095, 4096, 4097, 12_289]) {
      const values = Float32Array.from({ length }, () => (random() - 0.5) * 1e3);
      if (length > 3) values.set([-0, 1e-45, 3.4028234663852886e38, -3.4028234663852886e38], 0);
      expect(firstNonFinite(values)).toBe(-1);
      const positions = length === 0 ? [] : [0, length - 1, Math.floor(random() * length), Math.min(length - 1, 4096), Math.min(length - 1, 4095)];
      for (const at of positions) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const copy = values.slice();
          copy[at] = bad;
          if (at + 1 < length) copy[length - 1] = NaN; // a later bad value must not win
          expect(firstNonFinite(copy), `length ${length}, ${bad} at ${at}`).toBe(reference(copy));
        }
      }
    }
    // A view that starts inside its buffer.
    const whole = new Float32Array(10_000);
    whole[3] = NaN;
    whole[5000] = Infinity;
    expect(firstNonFinite(whole.subarray(4))).toBe(4996);
  });

  it('runs natively', () => {
    expect(native.findNonFinite(Float32Array.of(1, 2, NaN))).toBe(2);
    expect(() => native.findNonFinite(new Float64Array(2) as unknown as Float32Array)).toThrow(TypeError);
  });
});

describe('uninitializedBytes', () => {
  it('gives buffers of the asked size that hold what is written, small and large', () => {
    for (const bytes of [0, 1, 1000, (1 << 20) + 3, 5 << 20]) {
      const buffer = uninitializedBytes(bytes);
      expect(buffer.byteLength).toBe(bytes);
      buffer.fill(7);
      expect(Buffer.from(buffer).equals(Buffer.alloc(bytes, 7))).toBe(true);
    }
    expect(() => native.hostBuffer(-1)).toThrow(RangeError);
  });
});

describe('readFileBytes (one native job)', () => {
  it('reads a regular file whole and refuses FIFOs, directories and files over the budget, naming them', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { IoError } = await import('../../lib/errors.js');
    const { readFileBytes } = await import('../../lib/io/fileBytes.js');
    const { tempDir, writeTemp } = await import('./helpers.js');
    const dir = tempDir();
    const content = Uint8Array.from({ length: (3 << 20) + 5 }, (_, i) => (i * 31) & 0xff);
    const path = writeTemp(dir, 'data.bin', content);
    expect(Buffer.from(await readFileBytes(path)).equals(content)).toBe(true); // toEqual on megabytes is slow
    expect(await readFileBytes(writeTemp(dir, 'empty.bin', ''))).toEqual(new Uint8Array(0));
    const fifo = join(dir, 'pipe.bin');
    execFileSync('mkfifo', [fifo]);
    const folder = join(dir, 'folder.bin');
    mkdirSync(folder);
    for (const [file, message] of [
      [fifo, `${fifo}: cannot read file (it is a FIFO (named pipe), not a regular file)`],
      [folder, `${folder}: cannot read file (it is a directory, not a regular file)`],
      [path, `${path}: cannot read file (${content.length} bytes, more than the 1000 bytes this reader takes)`],
      [join(dir, 'absent.bin'), `${join(dir, 'absent.bin')}: cannot read file (no such file)`],
    ] as const) {
      const error = await readFileBytes(file, 1000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IoError);
      expect((error as Error).message).toBe(message);
    }
  });
});
