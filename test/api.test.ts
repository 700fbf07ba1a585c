/** The high-level calls' own contracts (the README's script runs trainStage and evaluate end to end). */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ask, evaluate, trainStage } from '../lib/api/index.js';
import { makeSyntheticDataset } from '../lib/demo/synth.js';
import { loadCompressor } from '../lib/compressorState.js';
import { ConfigError, IoError } from '../lib/errors.js';
import { makeTinyQwen3 } from '../lib/model/tinyQwen3.js';

const dir = mkdtempSync(join(tmpdir(), 'wsi-vqa-api-'));
const llmPath = join(dir, 'llm');
let slidePath = '';
let labelsCsv = '';

beforeAll(async () => {
  const data = await makeSyntheticDataset(join(dir, 'data'), { trainSlides: 2, testSlides: 1, patches: [4, 8] });
  slidePath = join(data.featuresDir, 'SYN-0000.safetensors');
  labelsCsv = data.labelsCsv;
  await makeTinyQwen3(llmPath, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 32, seed: 3 });
}, 120_000);

describe('ask', () => {
  it('streams the answer it returns, greedy by default as the tiny model has no sampling config', async () => {
    const pieces: string[] = [];
    const answer = await ask({ llmPath, slidePath, question: 'Which organ is this?', maxNewTokens: 6, onText: (text) => pieces.push(text) });
    expect(pieces.join('')).toBe(answer);
    expect(pieces.length).toBeGreaterThan(0);
    expect(await ask({ llmPath, slidePath, question: 'Which organ is this?', maxNewTokens: 6, temperature: 0 })).toBe(answer);
  }, 120_000);
});

describe('options checked at run time too (for JavaScript callers)', () => {
  it('trainStage names an unknown key and a stage without its LLM; evaluate a bad mode', async () => {
    const outputDir = join(dir, 'bad');
    await expect(trainStage({ stage: 0, dataPath: labelsCsv, outputDir, numEpochs: 2 } as never)).rejects.toThrow(/unknown key 'numEpochs'/);
    await expect(trainStage({ stage: 1, dataPath: labelsCsv, outputDir } as never)).rejects.toThrow(ConfigError);
    await expect(evaluate({ llmPath, dataPath: labelsCsv, mode: 'vote' as never })).rejects.toThrow(/'mode': expected likelihood or generate/);
    await expect(trainStage({ stage: 0, dataPath: labelsCsv, outputDir, expertWidth: 0 })).rejects.toThrow(/'expertWidth' must be a positive integer, got 0/);
    await expect(trainStage({ stage: 0, dataPath: labelsCsv, outputDir, expertWidth: 8, compressorPath: 'moe_best.pt' })).rejects.toThrow(/stage 0 without 'compressorPath' only/);
  });

  it('trainStage and evaluate refuse a dataset whose feature files are missing before loading anything', async () => {
    const elsewhere = join(dir, 'elsewhere');
    // No model at llmPath either: the missing features are found first.
    const noModel = join(dir, 'no-model');
    await expect(trainStage({ stage: 0, dataPath: labelsCsv, featuresDir: elsewhere, outputDir: join(dir, 'unstarted') })).rejects.toThrow(IoError);
    await expect(trainStage({ stage: 0, dataPath: labelsCsv, featuresDir: elsewhere, outputDir: join(dir, 'unstarted') })).rejects.toThrow(`relative paths are resolved in ${elsewhere} (--features-dir)`);
    expect(existsSync(join(dir, 'unstarted'))).toBe(false);
    const dataPath = join(dir, 'one-question.json');
    writeFileSync(dataPath, JSON.stringify({ samples: [{ slide_id: 'S', question: 'Q?', choices: ['A) x', 'B) y'], answer: 'A', features_path: 'S.pt' }] }));
    await expect(evaluate({ llmPath: noModel, dataPath })).rejects.toThrow(`${dataPath}: none of its 1 feature files exists (row 1: ${join(dir, 'S.pt')});`);
  });
});

describe('evaluate', () => {
  it('scores both kinds of a WSI-VQA file: choices by accuracy, open questions by BLEU and ROUGE-L', async () => {
    const dataPath = join(dir, 'wsi-vqa.json');
    writeFileSync(dataPath, JSON.stringify([
      { Id: 'SYN-0000', Question: 'What is the tumor grade?', Choice: ['grade 1', 'grade 2', 'grade 3', 'grade 4'], Answer: 'grade 2' },
      { Id: 'SYN-0001', Question: 'Is there necrosis?', Choice: ['yes', 'no'], Answer: 'no' },
      { Id: 'SYN-0000', Question: 'Describe the tumor.', Answer: 'an invasive ductal carcinoma' },
      { Id: 'SYN-0002', Question: 'What is the diagnosis?', Answer: 'lobular carcinoma' },
    ]));
    const outputDir = join(dir, 'eval-mixed');
    const kinds = new Set<string>();
    const evaluation = await evaluate({ llmPath, dataPath, featuresDir: join(dir, 'data'), outputDir, onQuestion: (_done, _total, kind) => kinds.add(kind) });
    expect(evaluation.kind).toBe('mixed');
    if (evaluation.kind !== 'mixed') return;
    expect(evaluation.summary.multipleChoice.questions).toBe(2);
    expect(evaluation.summary.open.questions).toBe(2);
    expect(evaluation.open.result.answers.map((a) => a.reference)).toEqual(['an invasive ductal carcinoma', 'lobular carcinoma']);
    expect([...kinds].sort()).toEqual(['multiple-choice', 'open']);
    for (const file of ['results.json', 'summary.csv', 'open_results.json']) expect(existsSync(join(outputDir, file)), file).toBe(true);
  }, 120_000);
});

describe('trainStage', () => {
  it('stage 0 makes a compressor of the asked expert width, which loads back', async () => {
    const stage0 = await trainStage({ stage: 0, dataPath: labelsCsv, outputDir: join(dir, 'narrow'), expertWidth: 8, batchSize: 2, progress: 'none' });
    const compressor = await loadCompressor(stage0.compressorPath);
    expect(compressor.params.get('experts.0.net.0.weight')!.shape).toEqual([8, 1024]);
    compressor.dispose();
  }, 120_000);
});
