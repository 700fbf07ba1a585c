/** Shared helpers of the io tests: the fixture formulas of make_pt_fixtures.py, temp files, hand-built pickles. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';

export const FIXTURES = fileURLToPath(new URL('../fixtures/data/', import.meta.url));

/** value[i, j] = ((i * cols + j) % 97) / 8 - 6, as in make_pt_fixtures.py. */
export function ramp(rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, k) => (k % 97) / 8 - 6);
}

/** coords[i] = (256 i, 512 i + 7), as in make_pt_fixtures.py. */
export function coords(rows: number): Float32Array {
  return Float32Array.from({ length: rows * 2 }, (_, k) => (k % 2 === 0 ? 256 * (k >> 1) : 512 * (k >> 1) + 7));
}

/** A fresh temporary directory. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'wsi-vqa-io-'));
}

/** Writes `bytes` to `name` inside `dir` and returns the path. */
export function writeTemp(dir: string, name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Pickle bytes assembled from opcodes (numbers) and raw strings (latin-1). */
export function pickleBytes(...parts: (number | string)[]): Uint8Array {
  const bytes: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') bytes.push(part);
    else for (const c of part) bytes.push(c.charCodeAt(0));
  }
  return Uint8Array.from(bytes);
}

/** SHORT_BINUNICODE of an ASCII string. */
export function shortString(text: string): (number | string)[] {
  return [0x8c, text.length, text];
}

/** A torch.save-style stored zip: `<prefix>/data.pkl` plus `<prefix>/data/<key>` storages. */
export function torchZip(prefix: string, pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, level: 0 | 6 = 0): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = { [`${prefix}/data.pkl`]: [pickle, { level }] };
  for (const [key, bytes] of Object.entries(storages)) files[`${prefix}/data/${key}`] = [bytes, { level }];
  files[`${prefix}/version`] = [new TextEncoder().encode('3\n'), { level }];
  return zipSync(files);
}
