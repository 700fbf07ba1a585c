import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDataset } from '../../lib/data/check.js';
import { readDataset } from '../../lib/data/dataset.js';
import { SYNTH_ATTRIBUTES, makeSyntheticDataset } from '../../lib/demo/synth.js';
import { readSlideFeatures } from '../../lib/io/features.js';
import { tokenizeConversation } from '../../lib/text/chat.js';
import { loadTokenizer } from '../../lib/text/tokenizer.js';
import { chatTurns, questionPrompt } from '../../lib/vqa/batches.js';
import { tempDir } from '../io/helpers.js';

describe('synthetic slide dataset', async () => {
  const options = { trainSlides: 24, testSlides: 16, patches: [20, 40] as [number, number], seed: 7 };
  const data = await makeSyntheticDataset(tempDir(), options);

  it('writes every file in a real format that the dataset checks accept', async () => {
    for (const file of [data.labelsCsv, data.captionsCsv, data.conversationsJson, data.benchmarkJson]) {
      const check = await checkDataset(file, { featuresDir: data.dir });
      expect(check.problems, file).toEqual([]);
    }
    const benchmark = await readDataset(data.benchmarkJson, { featuresDir: data.dir });
    expect(benchmark).toHaveLength(data.questions);
    expect(new Set(benchmark.map((s) => s.narrowCategory))).toEqual(new Set(SYNTH_ATTRIBUTES.map((a) => a.narrow)));
  });

  it('trains on the prompts it is tested on: the same tokens up to the answer, and the answer is the letter the benchmark scores', async () => {
    const tokenizer = await loadTokenizer();
    const training = await readDataset(data.conversationsJson, { featuresDir: data.dir });
    const benchmark = await readDataset(data.benchmarkJson, { featuresDir: data.dir });
    for (const attribute of SYNTH_ATTRIBUTES) {
      const trained = training.find((s) => s.id.endsWith(`-${attribute.name}`))!;
      const asked = benchmark.find((s) => s.narrowCategory === attribute.narrow)!;
      const conversation = tokenizeConversation(tokenizer, chatTurns(trained), { imageTokens: 16 });
      const answerStart = conversation.labels.findIndex((label) => label !== -100);
      const prompt = questionPrompt(tokenizer, asked, 16);
      expect([...conversation.inputIds.subarray(0, answerStart)], attribute.name).toEqual([...prompt.inputIds]);
      expect(tokenizer.decode(conversation.inputIds.subarray(0, answerStart))).toContain(`\nA) ${attribute.values[0]}\n`);
      const letter = trained.turns.at(-1)!.text;
      expect([...conversation.labels.subarray(answerStart).filter((label) => label !== -100)]).toEqual([...tokenizer.encode(letter), tokenizer.ids.imEnd]);
    }
  });

  it('is the same bytes for the same seed', async () => {
    const again = await makeSyntheticDataset(tempDir(), options);
    for (const name of ['benchmark.json', 'conversations.json', 'features/SYN-0003.safetensors']) {
      expect(readFileSync(join(again.dir, name)).equals(readFileSync(join(data.dir, name))), name).toBe(true);
    }
  });

  it('skews the answer letters, so the majority letter beats chance', async () => {
    const benchmark = await readDataset(data.benchmarkJson, { featuresDir: data.dir });
    const counts = new Map<string, number>();
    for (const s of benchmark) counts.set(s.answer!, (counts.get(s.answer!) ?? 0) + 1);
    expect(Math.max(...counts.values()) / benchmark.length).toBeGreaterThan(0.3);
  });

  it('carries the slide label in the features: nearest class mean of held-out slides is right', async () => {
    const labels = await readDataset(data.labelsCsv, { featuresDir: data.dir });
    const mean = async (path: string) => {
      const { features, patches } = await readSlideFeatures(path);
      const m = new Float64Array(1024);
      for (let i = 0; i < features.length; i++) m[i % 1024] += features[i] / patches;
      return m;
    };
    const centroids = new Map<string, Float64Array>();
    for (const s of labels) {
      const m = await mean(s.features[0].path);
      const tissue = s.label!;
      const c = centroids.get(tissue) ?? new Float64Array(1024);
      m.forEach((v, i) => (c[i] += v));
      centroids.set(tissue, c);
    }
    const benchmark = (await readDataset(data.benchmarkJson, { featuresDir: data.dir })).filter((s) => s.narrowCategory === 'Tissue Origin');
    let right = 0;
    for (const s of benchmark) {
      const m = await mean(s.features[0].path);
      const dot = (c: Float64Array) => c.reduce((sum, v, i) => sum + v * m[i], 0) / Math.hypot(...c);
      const best = [...centroids].sort((a, b) => dot(b[1]) - dot(a[1]))[0][0];
      if (s.choices![s.answer!.charCodeAt(0) - 65] === best) right++;
    }
    expect(right / benchmark.length).toBeGreaterThan(0.8);
  });
});
