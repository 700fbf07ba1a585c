import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, IoError } from '../../lib/errors.js';
import { FeatureCache } from '../../lib/io/featureCache.js';
import { readSlideFeatures } from '../../lib/io/features.js';
import { readH5Datasets } from '../../lib/io/h5.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { FIXTURES, coords, ramp, tempDir, writeTemp } from './helpers.js';

const fixture = (name: string) => join(FIXTURES, name);

/** [x, x] per row: the 512 → 1024 widening. */
function widened(values: Float32Array): Float32Array {
  const rows = values.length / 512;
  const out = new Float32Array(rows * 1024);
  for (let r = 0; r < rows; r++) {
    out.set(values.subarray(r * 512, (r + 1) * 512), r * 1024);
    out.set(values.subarray(r * 512, (r + 1) * 512), r * 1024 + 512);
  }
  return out;
}

/** A CSV of `rows` patches × `width` features (ramp values), with optional header and trailing columns. */
function featureCsv(rows: number, width: number, options: { header?: string[]; trailing?: (r: number) => string[] } = {}): string {
  const values = ramp(rows, width);
  const lines = options.header ? [options.header.join(',')] : [];
  for (let r = 0; r < rows; r++) {
    lines.push([...values.subarray(r * width, (r + 1) * width)].map(String).concat(options.trailing?.(r) ?? []).join(','));
  }
  return lines.join('\n') + '\n';
}

describe('readSlideFeatures: every format to [N, 1024] float32', () => {
  const dir = tempDir();

  it('reads features and int64 coords from a torch dict', async () => {
    const slide = await readSlideFeatures(fixture('dict.pt'));
    expect(slide.patches).toBe(6);
    expect(slide.features).toEqual(ramp(6, 1024));
    expect(slide.coords).toEqual(coords(6));
  });

  it('widens 512-d float16 features by self-concatenation', async () => {
    const slide = await readSlideFeatures(fixture('feat512.pt'));
    expect(slide.patches).toBe(5);
    expect(slide.features).toEqual(widened(ramp(5, 512)));
    expect(slide.coords).toBeUndefined();
  });

  it('reads .npy arrays and pickled dicts', async () => {
    expect((await readSlideFeatures(fixture('plain.npy'))).features).toEqual(ramp(3, 1024));
    expect((await readSlideFeatures(fixture('dict_numpy2.npy'))).features).toEqual(widened(ramp(2, 512)));
  });

  it('reads a CLAM .h5 file written by h5py', async () => {
    const datasets = await readH5Datasets(fixture('clam.h5'), ['features', 'coords', 'absent']);
    expect([...datasets.keys()]).toEqual(['features', 'coords']);
    expect(datasets.get('coords')!.dtype).toBe('I64');
    const slide = await readSlideFeatures(fixture('clam.h5'));
    expect(slide.features).toEqual(widened(ramp(4, 512)));
    expect(slide.coords).toEqual(coords(4));
  });

  it('reads a safetensors feature file with coords', async () => {
    const path = join(dir, 'slide.safetensors');
    await writeSafetensors(path, {
      features: { dtype: 'F32', shape: [1, 3, 1024], data: ramp(3, 1024) },
      coords: { dtype: 'F32', shape: [3, 2], data: coords(3) },
    });
    const slide = await readSlideFeatures(path);
    expect(slide.patches).toBe(3);
    expect(slide.features).toEqual(ramp(3, 1024));
    expect(slide.coords).toEqual(coords(3));
  });

  it('reads SlideChat CSVs with and without a header, keeping numeric trailing columns as coords', async () => {
    const plain = writeTemp(dir, 'plain.csv', featureCsv(4, 512));
    expect((await readSlideFeatures(plain)).features).toEqual(widened(ramp(4, 512)));

    const pandasHeader = Array.from({ length: 512 }, (_, i) => String(i)).concat(['x', 'y', 'name']);
    const withHeader = writeTemp(dir, 'header.csv', featureCsv(3, 512, { header: pandasHeader, trailing: (r) => [String(r * 256), String(r * 512 + 7), `patch_${r}.png`] }));
    const slide = await readSlideFeatures(withHeader);
    expect(slide.patches).toBe(3);
    expect(slide.features).toEqual(widened(ramp(3, 512)));
    expect(slide.coords).toEqual(coords(3));

    const numericHeader = writeTemp(dir, 'numeric-header.csv', featureCsv(2, 1024, { header: Array.from({ length: 1024 }, (_, i) => String(i)) }));
    expect((await readSlideFeatures(numericHeader)).patches).toBe(2);
  });

  it('keeps at most maxPatches, evenly spaced, with their coords', async () => {
    const slide = await readSlideFeatures(fixture('dict.pt'), { maxPatches: 3 });
    expect(slide.patches).toBe(3);
    const all = ramp(6, 1024);
    const rows = [0, 2, 4];
    expect(slide.features).toEqual(Float32Array.from(rows.flatMap((r) => [...all.subarray(r * 1024, (r + 1) * 1024)])));
    expect([...slide.coords!]).toEqual(rows.flatMap((r) => [256 * r, 512 * r + 7]));
    expect((await readSlideFeatures(fixture('dict.pt'), { maxPatches: 100 })).patches).toBe(6);
    await expect(readSlideFeatures(fixture('dict.pt'), { maxPatches: 0 })).rejects.toThrow(RangeError);
  });
});

describe('readSlideFeatures: hostile and broken feature files', () => {
  const dir = tempDir();

  it('names file, row and column for a text cell in a feature column', async () => {
    const csv = featureCsv(3, 512).split('\n');
    const cells = csv[1].split(',');
    cells[100] = 'oops';
    csv[1] = cells.join(',');
    const path = writeTemp(dir, 'text-cell.csv', csv.join('\n'));
    await expect(readSlideFeatures(path)).rejects.toThrow(FormatError);
    await expect(readSlideFeatures(path)).rejects.toThrow(`${path}: row 2, column 101: "oops" is not a number`);
  });

  it('names the patch row holding NaN or Inf', async () => {
    const values = ramp(4, 1024);
    values[2 * 1024 + 5] = NaN;
    const nanPath = join(dir, 'nan.safetensors');
    await writeSafetensors(nanPath, { features: { dtype: 'F32', shape: [4, 1024], data: values } });
    await expect(readSlideFeatures(nanPath)).rejects.toThrow(`${nanPath}: patch row 2 (0-based) has a NaN value at column 5`);
    const infCsv = writeTemp(dir, 'inf.csv', featureCsv(2, 512).replace(/^-6,/m, 'inf,'));
    await expect(readSlideFeatures(infCsv)).rejects.toThrow(/inf\.csv: patch row 0 \(0-based\) has a infinite value/);
  });

  it('refuses an empty slide and a width of 700', async () => {
    const empty = join(dir, 'empty.safetensors');
    await writeSafetensors(empty, { features: { dtype: 'F32', shape: [0, 1024], data: new Float32Array(0) } });
    await expect(readSlideFeatures(empty)).rejects.toThrow(`${empty}: the slide has no patches (N = 0)`);
    const headerOnly = writeTemp(dir, 'header-only.csv', Array.from({ length: 512 }, (_, i) => `f${i}`).join(',') + '\n');
    await expect(readSlideFeatures(headerOnly)).rejects.toThrow(/header-only\.csv: the slide has no patches/);

    const wide = join(dir, 'wide.safetensors');
    await writeSafetensors(wide, { features: { dtype: 'F32', shape: [2, 700], data: new Float32Array(1400) } });
    await expect(readSlideFeatures(wide)).rejects.toThrow(`${wide}: feature width 700 is not supported (expected 512 or 1024)`);
    const wideCsv = writeTemp(dir, 'wide.csv', featureCsv(2, 700));
    await expect(readSlideFeatures(wideCsv)).rejects.toThrow(/wide\.csv: 700 columns per row; expected 512 or 1024 feature columns/);
  });

  it('reports ragged CSV rows, unknown extensions, missing files, non-HDF5 .h5 and ambiguous dicts', async () => {
    const ragged = writeTemp(dir, 'ragged.csv', featureCsv(2, 512) + '1,2,3\n');
    await expect(readSlideFeatures(ragged)).rejects.toThrow(/ragged\.csv: Invalid Record Length/);
    await expect(readSlideFeatures(writeTemp(dir, 'slide.tiff', 'x'))).rejects.toThrow(/slide\.tiff: unknown feature file type/);
    await expect(readSlideFeatures(join(dir, 'missing.pt'))).rejects.toThrow(IoError);
    await expect(readSlideFeatures(join(dir, 'missing.csv'))).rejects.toThrow(IoError);
    await expect(readSlideFeatures(writeTemp(dir, 'fake.h5', 'not hdf5 at all'))).rejects.toThrow(/fake\.h5: not an HDF5 file/);
    await expect(readSlideFeatures(fixture('checkpoint.pt'))).rejects.toThrow(/checkpoint\.pt: cannot tell which tensor holds the features/);
  });

  it('refuses what is not a regular file (FIFO, device, directory) at once, with an IoError naming it', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    const fifo = join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    const zero = join(dir, 'zero.npy');
    symlinkSync('/dev/zero', zero);
    const folder = join(dir, 'folder.h5');
    mkdirSync(folder);
    for (const [path, kind] of [
      [fifo, 'a FIFO (named pipe)'],
      [zero, 'a device'],
      [folder, 'a directory'],
    ]) {
      const error = await readSlideFeatures(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IoError);
      expect((error as Error).message).toBe(`${path}: cannot read file (it is ${kind}, not a regular file)`);
    }
  });

  it('refuses an HDF5 dataset whose chunks were never written, and reads one that was', async () => {
    const { default: h5wasm } = await import('h5wasm/node');
    await h5wasm.ready;
    const write = (name: string, rows: number, data: Float32Array) => {
      const path = join(dir, name);
      const file = new h5wasm.File(path, 'w');
      const dataset = file.create_dataset({ name: 'features', data, shape: [data.length / 1024, 1024], maxshape: [null, 1024], chunks: [64, 1024], compression: 'gzip' });
      if (rows * 1024 > data.length) dataset.resize([rows, 1024]);
      file.close();
      return path;
    };
    const sparse = write('sparse.h5', 65_536, ramp(2, 1024));
    await expect(readSlideFeatures(sparse)).rejects.toThrow(/sparse\.h5: dataset features: shape \[65536,1024\] needs 268435456 bytes, more than its \d+-byte file can hold compressed/);
    const stored = write('stored.h5', 3, ramp(3, 1024));
    expect((await readSlideFeatures(stored)).features).toEqual(ramp(3, 1024));
  });

  it('drops the index column of a CSV written by pandas, numbering columns as the file does', async () => {
    const header = ['', ...Array.from({ length: 512 }, (_, i) => String(i)), 'x', 'y'].join(',');
    const rows = [0, 1].map((r) => [String(10 + r), ...ramp(2, 512).subarray(r * 512, (r + 1) * 512), 256 * r, 7].join(','));
    const path = writeTemp(dir, 'pandas.csv', [header, ...rows].join('\n'));
    const slide = await readSlideFeatures(path);
    expect(slide.features).toEqual(widened(ramp(2, 512)));
    expect(slide.coords).toEqual(Float32Array.of(0, 7, 256, 7));
    const broken = writeTemp(dir, 'pandas-text.csv', [header, rows[0].replace(/^(10,[^,]*),[^,]*/, '$1,oops')].join('\n'));
    await expect(readSlideFeatures(broken)).rejects.toThrow(`${broken}: row 2, column 3 ("1"): "oops" is not a number`);
  });

  it('reports a truncated HDF5 file without crashing', async () => {
    const truncated = join(dir, 'truncated.h5');
    copyFileSync(fixture('clam.h5'), truncated);
    const { truncateSync } = await import('node:fs');
    truncateSync(truncated, 3000);
    await expect(readSlideFeatures(truncated)).rejects.toThrow(/truncated\.h5: /);
  });
});

describe('FeatureCache', () => {
  it('parses a slide once and bounds its memory by bytes', async () => {
    const cache = new FeatureCache(6 * 1024 * 4 + 6 * 2 * 4); // exactly one dict.pt slide
    const path = fixture('dict.pt');
    const [a, b] = await Promise.all([readSlideFeatures(path, { cache }), readSlideFeatures(path, { cache })]);
    expect(a).toBe(b);
    expect(await readSlideFeatures(path, { cache })).toBe(a);
    expect(cache.size).toBe(1);
    await readSlideFeatures(fixture('plain.npy'), { cache }); // 3 × 1024 float32 fits only after evicting dict.pt
    expect(cache.size).toBe(1);
    expect(cache.heldBytes).toBe(3 * 1024 * 4);
    expect(await readSlideFeatures(path, { cache })).not.toBe(a);
  });
});
