import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../lib/errors.js';
import { compressorShapes, loadCompressor, randomCompressor, saveCompressor } from '../lib/compressorState.js';
import { writeSafetensors } from '../lib/io/safetensors.js';
import { Tensor } from '../lib/tensor.js';
import { tempDir } from './io/helpers.js';

const same = (a: Tensor, b: Tensor) => Buffer.from(a.toFloat32().buffer).equals(Buffer.from(b.toFloat32().buffer));

describe('compressor weights', () => {
  const dir = tempDir();

  it('round-trips through compressor.safetensors and compresses the same', async () => {
    const moe = randomCompressor({ slots: 3, seed: 11 });
    const path = join(dir, 'compressor.safetensors');
    await saveCompressor(path, moe);
    const loaded = await loadCompressor(path);
    expect(loaded.slots).toBe(3);
    for (const [name, t] of moe.params) expect(same(loaded.params.get(name)!, t), name).toBe(true);
    const x = Tensor.from(Float32Array.from({ length: 5 * 1024 }, (_, i) => Math.sin(i)), [5, 1024]);
    expect(same(loaded.forward(x, [0, 2, 5]).out, moe.forward(x, [0, 2, 5]).out)).toBe(true);
  });

  it('reads the experts\' inner width from the file: a narrow compressor round-trips', async () => {
    const moe = randomCompressor({ slots: 2, expertWidth: 24, seed: 5 });
    expect(moe.params.get('experts.1.net.0.weight')!.shape).toEqual([24, 1024]);
    const path = join(dir, 'narrow.safetensors');
    await saveCompressor(path, moe);
    const loaded = await loadCompressor(path);
    expect(loaded.params.get('experts.1.net.3.weight')!.shape).toEqual([1024, 24]);
    const x = Tensor.from(Float32Array.from({ length: 7 * 1024 }, (_, i) => Math.cos(i)), [7, 1024]);
    expect(same(loaded.forward(x, [0, 7]).out, moe.forward(x, [0, 7]).out)).toBe(true);
    expect(() => randomCompressor({ expertWidth: 0 })).toThrow(/expert width must be a positive integer, got 0/);
  });

  it('reads a classifier wrapper (TC-SSA moe_best layout) and names a misshapen expert tensor', async () => {
    const shapes = compressorShapes(2);
    const entries: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
      'classifier.weight': { dtype: 'F32', shape: [4, 1024], data: new Float32Array(4096) },
    };
    for (const [name, shape] of shapes) entries[`moe.${name}`] = { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) };
    const wrapped = join(dir, 'wrapped.safetensors');
    await writeSafetensors(wrapped, entries);
    expect((await loadCompressor(wrapped)).params.size).toBe(shapes.size);

    entries['moe.experts.1.net.3.weight'] = { dtype: 'F32', shape: [1024, 256], data: new Float32Array(1024 * 256) };
    const bad = join(dir, 'bad.safetensors');
    await writeSafetensors(bad, entries);
    await expect(loadCompressor(bad)).rejects.toThrow(ShapeError);
    await expect(loadCompressor(bad)).rejects.toThrow(/'experts\.1\.net\.3\.weight' has shape \[1024,256\], expected \[1024,512\]/);
  });
});
