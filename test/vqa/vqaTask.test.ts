/** Stage 1 and 2 tasks: their weights go to disk and come back exactly (what resume relies on). */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomCompressor } from '../../lib/compressorState.js';
import { Qwen3Model } from '../../lib/model/qwen3Model.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';
import { randomProjector } from '../../lib/projectorState.js';
import { fill } from '../../lib/qwen3Ops.js';
import { loadTokenizer } from '../../lib/text/tokenizer.js';
import { VqaModel } from '../../lib/vqa/vqaModel.js';
import { VqaTask } from '../../lib/vqa/vqaTask.js';
import { tempDir } from '../io/helpers.js';

describe('VqaTask', () => {
  it('stage 2 saves the projector and the LLM folder and loads them back bit for bit', async () => {
    const llmPath = join(tempDir(), 'llm');
    await makeTinyQwen3(llmPath, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed: 2 });
    const llm = await Qwen3Model.load(llmPath);
    const model = new VqaModel({ compressor: randomCompressor({ slots: 2 }), projector: randomProjector(16, 3), llm, tokenizer: await loadTokenizer(llmPath), llmPath });
    const task = new VqaTask(model, 2);
    const digest = () => task.parameters().map((p) => `${p.name} ${createHash('sha256').update(p.value.toFloat32()).digest('hex')}`);
    const before = digest();
    const dir = tempDir();
    await task.saveWeights(dir);
    expect(existsSync(join(dir, 'projector.safetensors'))).toBe(true);
    expect(existsSync(join(dir, 'llm', 'model.safetensors'))).toBe(true);
    for (const p of task.parameters()) fill(p.value, 0.5);
    expect(digest()).not.toEqual(before);
    await task.loadWeights(dir);
    expect(digest()).toEqual(before);
    expect(new VqaTask(model, 1).parameters().map((p) => p.name)).toEqual(['projector.fc1Weight', 'projector.fc1Bias', 'projector.fc2Weight', 'projector.fc2Bias']);
  });
});
