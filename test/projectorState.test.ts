import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, ShapeError } from '../lib/errors.js';
import { writeSafetensors } from '../lib/io/safetensors.js';
import { loadProjector, projectorShapes, randomProjector, saveProjector } from '../lib/projectorState.js';
import { tempDir } from './io/helpers.js';

describe('projector weights', () => {
  const dir = tempDir();

  it('round-trips through projector.safetensors bit for bit', async () => {
    const weights = randomProjector(24, 5);
    const path = join(dir, 'projector.safetensors');
    await saveProjector(path, weights);
    const loaded = await loadProjector(path, 24);
    for (const key of Object.keys(weights) as (keyof typeof weights)[]) {
      expect(loaded[key].shape, key).toEqual(weights[key].shape);
      expect(Buffer.from(loaded[key].toFloat32().buffer).equals(Buffer.from(weights[key].toFloat32().buffer)), key).toBe(true);
    }
  });

  it('strips a wrapper prefix, and names a missing or misshapen tensor', async () => {
    const shapes = projectorShapes(8);
    const tensor = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const prefixed = join(dir, 'prefixed.safetensors');
    await writeSafetensors(prefixed, {
      'model.mm_projector.0.weight': tensor(shapes.fc1Weight),
      'model.mm_projector.0.bias': tensor(shapes.fc1Bias),
      'model.mm_projector.2.weight': tensor(shapes.fc2Weight),
      'model.mm_projector.2.bias': tensor(shapes.fc2Bias),
    });
    expect((await loadProjector(prefixed, 8)).fc2Weight.shape).toEqual([8, 2048]);
    await expect(loadProjector(prefixed, 16)).rejects.toThrow(ShapeError);
    await expect(loadProjector(prefixed, 16)).rejects.toThrow(/'2\.weight' has shape \[8,2048\], expected \[16,2048\]/);

    const partial = join(dir, 'partial.safetensors');
    await writeSafetensors(partial, { '0.weight': tensor(shapes.fc1Weight) });
    await expect(loadProjector(partial, 8)).rejects.toThrow(FormatError);
    await expect(loadProjector(partial, 8)).rejects.toThrow(/partial\.safetensors: tensor '0\.bias' is missing/);
    await expect(loadProjector(join(dir, 'projector.onnx'), 8)).rejects.toThrow(/unknown weights file type/);
  });
});
