import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDataset, readDataset } from '../../lib/data/dataset.js';
import { IMAGE_PLACEHOLDER } from '../../lib/data/prompt.js';
import { sampleProblems } from '../../lib/data/validate.js';
import { FIXTURES } from '../io/helpers.js';

/** The real sample files of ../shared/real (see its README); the licence-free ones are only read from there. */
const REAL = '/work/shared/real';
const haveReal = existsSync(REAL);
const features = '/features';

describe('real dataset files copied into test/fixtures (licences allow it)', () => {
  it('reads the SlideChat stage-2 training example: list image paths, <image> at the end of the human turn', async () => {
    const samples = await readDataset(join(FIXTURES, 'slidechat_train_data_example.json'), { featuresDir: features });
    expect(samples).toHaveLength(3);
    expect(samples[0]).toMatchObject({
      id: 'train::0',
      slideId: 'TCGA-A7-A0CJ-01Z-00-DX2',
      features: [{ path: '/features/TCGA-A7-A0CJ-01Z-00-DX2.csv' }],
      origin: { row: 1 },
    });
    for (const sample of samples) {
      expect(sample.turns.map((t) => t.role)).toEqual(['user', 'assistant']);
      expect(sample.turns[0].text.endsWith(`\n${IMAGE_PLACEHOLDER}`)).toBe(true);
      expect(sample.answer).toBe(sample.turns[1].text);
      expect(sampleProblems(sample)).toEqual([]);
    }
  });

  it('reports each record of a SlideInstruct "missing" list (id + image, no conversation) as a problem at its row', async () => {
    const file = join(FIXTURES, 'SlideInstruct_train_stage1_caption_filtered_missing.json');
    const { format, samples, problems } = await parseDataset(file);
    expect(format).toBe('slidechat-json');
    expect(samples).toEqual([]);
    expect(problems).toHaveLength(29);
    expect(problems[0]).toEqual({ file, row: 1, message: 'record has no "conversations" list' });
    await expect(readDataset(file)).rejects.toThrow(/29 record\(s\) cannot be read:\n {2}row 1: record has no "conversations" list/);
  });

  it('reads WSI-Bench JSONL lines as open questions with their task', async () => {
    const samples = await readDataset(join(FIXTURES, 'wsi_bench_test_head12.jsonl'), { featuresDir: features });
    expect(samples).toHaveLength(12);
    expect(samples[0]).toMatchObject({
      id: 'Subtype_TCGA-BH-A18U-01Z-00-DX1.63940315-59BC-462B-87A8-2BBB33C9503E-1_1',
      slideId: 'TCGA-BH-A18U-01Z-00-DX1.63940315-59BC-462B-87A8-2BBB33C9503E',
      features: [{ path: '/features/TCGA-BRCA/TCGA-BH-A18U-01Z-00-DX1.63940315-59BC-462B-87A8-2BBB33C9503E.pt' }],
      answer: 'The molecular subtype is Luminal B.',
      task: 'Subtype',
      origin: { row: 1 },
    });
    expect(samples[0].turns[0].text.startsWith(`${IMAGE_PLACEHOLDER}\nGiven the immunohistochemical`)).toBe(true);
  });
});

describe.skipIf(!haveReal)('every real sample file in ../shared/real parses', () => {
  it('slidebench_test.json: 1 494 closed questions with letters and categories', async () => {
    const samples = await readDataset(join(REAL, 'slidebench_test.json'), { featuresDir: features });
    expect(samples).toHaveLength(1494);
    expect(new Set(samples.map((s) => s.slideId)).size).toBe(591);
    const first = samples[0];
    expect(first.choices).toEqual(['Squamous cell carcinoma', 'Small cell lung carcinoma', 'Papillary adenocarcinoma', 'Alveolar adenoma']);
    expect(first).toMatchObject({ answer: 'C', broadCategory: 'Diagnosis', narrowCategory: 'Disease Classification' });
    expect(first.turns[0].text).toContain('\nA) Squamous cell carcinoma\nB) Small cell lung carcinoma\n');
    expect(first.turns[0].text.endsWith('Answer with only the letter (A/B/C/D):')).toBe(true);
    expect(samples.flatMap(sampleProblems)).toEqual([]);
  });

  it.each([
    ['SlideInstruct_train_stage2_vqa_filtered_missing.json', 1284],
    ['SlideInstruct_train_stage1_caption_filtered_missing.json', 29],
  ])('%s: %i records without conversations, each reported', async (name, count) => {
    const { samples, problems } = await parseDataset(join(REAL, name));
    expect(samples).toEqual([]);
    expect(problems).toHaveLength(count);
    expect(problems.every((p, i) => p.row === i + 1)).toBe(true);
  });

  it('train_data_example.json', async () => {
    expect(await readDataset(join(REAL, 'train_data_example.json'))).toHaveLength(3);
  });

  it.each([
    ['WsiVQA_test.json', 735, 390],
    ['WsiVQA_val.json', 798, 421],
    ['WsiVQA_test_cleaned.json', 149, 79],
  ])('%s: %i questions, %i closed with a letter answer', async (name, total, closed) => {
    const samples = await readDataset(join(REAL, name), { featuresDir: features });
    expect(samples).toHaveLength(total);
    const withChoices = samples.filter((s) => s.choices);
    expect(withChoices).toHaveLength(closed);
    expect(withChoices.every((s) => /^[A-D]$/.test(s.answer!))).toBe(true);
    expect(samples.flatMap(sampleProblems)).toEqual([]);
    expect(samples.every((s) => s.features[0].path === `/features/${s.slideId}.pt`)).toBe(true);
  });

  it('WsiVQA_test.json: the first question is closed, its answer text becomes its letter', async () => {
    const [first] = await readDataset(join(REAL, 'WsiVQA_test.json'), { featuresDir: features });
    expect(first).toMatchObject({ slideId: 'TCGA-LD-A74U', answer: 'C', choices: ['ductal carcinoma in situ', 'invasive ductal carcinoma', 'invasive lobular carcinoma', 'metastatic carcinoma'] });
  });

  it('WSI-Bench-test.jsonl: 2 838 open questions over several tasks', async () => {
    const samples = await readDataset(join(REAL, 'WSI-Bench-test.jsonl'));
    expect(samples).toHaveLength(2838);
    expect(new Set(samples.map((s) => s.task)).has('Morphology')).toBe(true);
    expect(samples.flatMap(sampleProblems)).toEqual([]);
  });
});
