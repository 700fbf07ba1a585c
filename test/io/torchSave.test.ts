/** `torch.save`-format writing: read back by the project's `.pt` reader, under TC-SSA's wrapper key. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorchTensors } from '../../lib/io/torch.js';
import { writeTorchStateDict } from '../../lib/io/torchSave.js';
import { Tensor } from '../../lib/tensor.js';
import { tempDir } from './helpers.js';

describe('writeTorchStateDict', () => {
  it('writes tensors that read back by name, shape and value, under an outer key', async () => {
    const gate = Tensor.from(Float32Array.from({ length: 6 }, (_, i) => i - 2.5), [2, 3]);
    const bias = Tensor.from(Float32Array.of(0.5, -1), [2]);
    const path = join(tempDir(), 'moe_best.pt');
    await writeTorchStateDict(path, new Map([['compressor.gate.weight', gate], ['compressor.gate.bias', bias]]), { outer: 'model_state_dict' });
    const read = await readTorchTensors(path);
    expect([...read.keys()].sort()).toEqual(['model_state_dict.compressor.gate.bias', 'model_state_dict.compressor.gate.weight']);
    const weight = read.get('model_state_dict.compressor.gate.weight')!;
    expect(weight.shape).toEqual([2, 3]);
    expect([...new Float32Array(weight.data.slice().buffer)]).toEqual([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);
    expect([...new Float32Array(read.get('model_state_dict.compressor.gate.bias')!.data.slice().buffer)]).toEqual([0.5, -1]);
    gate.dispose();
    bias.dispose();
  });
});
