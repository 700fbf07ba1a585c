import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { parseDataset, readDataset } from '../../lib/data/dataset.js';
import { tempDir, writeTemp } from '../io/helpers.js';

describe('dataset formats', () => {
  const dir = tempDir();

  it('captions CSV: the caption is the answer to a describe-the-slide instruction', async () => {
    const file = writeTemp(dir, 'captions.csv', 'slide_id,caption,features_path\nS1,"Invasive carcinoma, grade 2.",feats/S1.pt\nS2,Normal breast tissue.,/abs/S2.h5\n');
    const samples = await readDataset(file, { featuresDir: '/data' });
    expect(samples.map((s) => [s.slideId, s.features[0].path, s.answer, s.origin.row])).toEqual([
      ['S1', '/data/feats/S1.pt', 'Invasive carcinoma, grade 2.', 2],
      ['S2', '/abs/S2.h5', 'Normal breast tissue.', 3],
    ]);
    expect(samples[0].turns).toEqual([
      { role: 'user', text: '<image>\nDescribe this whole slide image.' },
      { role: 'assistant', text: 'Invasive carcinoma, grade 2.' },
    ]);
  });

  it('slide labels CSV: one class label per slide for stage 0; an empty label is a problem at its row', async () => {
    const file = writeTemp(dir, 'labels.csv', 'slide_id,label,features_path\nS1, lung ,feats/S1.safetensors\nS2,,feats/S2.safetensors\n');
    const parsed = await parseDataset(file, { featuresDir: '/data' });
    expect(parsed.format).toBe('slide-labels-csv');
    expect(parsed.samples.map((s) => [s.slideId, s.label, s.features[0].path])).toEqual([['S1', 'lung', '/data/feats/S1.safetensors']]);
    expect(parsed.problems).toEqual([{ file, row: 3, message: expect.stringContaining('"label"') }]);
  });

  it('SlideBench CSV: choices A–D, answer letter, categories, features at <Tumor>/<Slide>.csv', async () => {
    const file = writeTemp(
      dir,
      'SlideBench-VQA-TCGA.csv',
      'ID,Slide,Tumor,Broad Category,Narrow Category,Question,A,B,C,D,Answer\n' +
        '7,TCGA-AA-0001-01Z-00-DX1,BRCA,Microscopy,Tissue Architecture,What pattern is seen?,solid,cribriform,papillary,none,B\n' +
        '8,TCGA-AA-0002-01Z-00-DX1,LUAD,Diagnosis,Disease Classification,Yes or no?,yes,no,,,A\n',
    );
    const samples = await readDataset(file, { featuresDir: '/feat' });
    expect(samples[0]).toMatchObject({
      id: '7',
      slideId: 'TCGA-AA-0001-01Z-00-DX1',
      features: [{ path: '/feat/BRCA/TCGA-AA-0001-01Z-00-DX1.csv' }],
      choices: ['solid', 'cribriform', 'papillary', 'none'],
      answer: 'B',
      broadCategory: 'Microscopy',
      narrowCategory: 'Tissue Architecture',
    });
    expect(samples[0].turns[0].text).toBe('<image>\nWhat pattern is seen?\nA) solid\nB) cribriform\nC) papillary\nD) none\nAnswer with only the letter (A/B/C/D):');
    expect(samples[0].turns[1]).toEqual({ role: 'assistant', text: 'B' });
    expect(samples[1].choices).toEqual(['yes', 'no']);
    expect(samples[1].turns[0].text.endsWith('(A/B):')).toBe(true);
  });

  it('VQA JSON and benchmark JSON', async () => {
    const vqa = writeTemp(dir, 'vqa.json', JSON.stringify([{ slide_id: 'S1', question: 'What grade?', answer: 'Grade 2', features_path: 'S1.pt' }]));
    const [open] = await readDataset(vqa);
    expect(open.turns).toEqual([
      { role: 'user', text: '<image>\nWhat grade?' },
      { role: 'assistant', text: 'Grade 2' },
    ]);
    expect(open.features[0].path).toBe(join(dir, 'S1.pt'));

    const bench = writeTemp(dir, 'bench.json', JSON.stringify({ samples: [{ slide_id: 'S1', question: 'Q?', choices: ['A) one', 'B) two'], answer: 'B', category: 'Clinical - Treatment Planning', features_path: 'S1.pt' }] }));
    const [closed] = await readDataset(bench);
    expect(closed).toMatchObject({ choices: ['one', 'two'], answer: 'B', broadCategory: 'Clinical', narrowCategory: 'Treatment Planning' });
  });

  it('SlideChat JSON: multi-turn conversations, <image> anywhere, a string or a list of images', async () => {
    const file = writeTemp(
      dir,
      'multi.json',
      JSON.stringify([
        {
          id: 'conv::1',
          image: './BRCA/TCGA-AA-0001-01Z-00-DX1.csv',
          conversations: [
            { from: 'human', value: 'Look at <image> and describe it.' },
            { from: 'gpt', value: 'A carcinoma.' },
            { from: 'human', value: 'Which grade?' },
            { from: 'gpt', value: 'Grade 3.' },
          ],
        },
      ]),
    );
    const [sample] = await readDataset(file, { featuresDir: '/feat' });
    expect(sample.features).toEqual([{ path: '/feat/BRCA/TCGA-AA-0001-01Z-00-DX1.csv' }]);
    expect(sample.slideId).toBe('TCGA-AA-0001-01Z-00-DX1');
    expect(sample.turns).toEqual([
      { role: 'user', text: 'Look at <image> and describe it.' },
      { role: 'assistant', text: 'A carcinoma.' },
      { role: 'user', text: 'Which grade?' },
      { role: 'assistant', text: 'Grade 3.' },
    ]);
  });

  it('WSI-VQA JSON: finds a case\'s feature file by name in the features folder', async () => {
    const features = join(dir, 'wsivqa-features');
    mkdirSync(join(features, 'TCGA-BR'), { recursive: true });
    writeFileSync(join(features, 'TCGA-BR', 'TCGA-LD-A74U-01Z-00-DX1.1234_0_1024.npy'), '');
    const file = writeTemp(dir, 'wsivqa.json', JSON.stringify([{ Id: 'TCGA-LD-A74U', Question: 'size?', Choice: ['50mm', '70mm'], Answer: '70MM ' }, { Id: 'TCGA-XX-0000', Question: 'open?', Answer: 'text' }]));
    const samples = await readDataset(file, { featuresDir: features });
    expect(samples[0]).toMatchObject({ answer: 'B', features: [{ path: join(features, 'TCGA-BR', 'TCGA-LD-A74U-01Z-00-DX1.1234_0_1024.npy') }] });
    expect(samples[1]).toMatchObject({ answer: 'text', choices: undefined, features: [{ path: join(features, 'TCGA-XX-0000.pt') }] });
  });

  it('reports each unreadable record with its row and keeps the others', async () => {
    const file = writeTemp(
      dir,
      'broken.json',
      JSON.stringify([
        { id: 'ok', image: ['a.pt'], conversations: [{ from: 'human', value: '<image> hi' }, { from: 'gpt', value: 'hello' }] },
        { id: 'roles', image: ['a.pt'], conversations: [{ from: 'gpt', value: 'hi' }] },
        { id: 'who', image: ['a.pt'], conversations: [{ from: 'system', value: 'x' }] },
        { id: 'noimage', conversations: [{ from: 'human', value: '<image>' }] },
        'not an object',
      ]),
    );
    const { samples, problems } = await parseDataset(file);
    expect(samples.map((s) => s.id)).toEqual(['ok']);
    expect(problems.map((p) => [p.row, p.message])).toEqual([
      [2, 'conversations[0] is a assistant turn where a user turn should be (turns alternate, starting with human)'],
      [3, 'conversations[0].from is "system"; expected "human" or "gpt"'],
      [4, 'field "image" must be a non-empty list of texts'],
      [5, 'record is not an object ("not an object")'],
    ]);
    const jsonl = writeTemp(dir, 'bench.jsonl', '{"question_id": "q1", "image": "a.pt", "question": "Q", "T-answer": "A"}\n{oops\n\n{"question_id": "q3", "image": "a.pt", "question": "Q"}\n');
    expect((await parseDataset(jsonl)).problems.map((p) => [p.row, p.message.split(' (')[0]])).toEqual([
      [2, 'line is not valid JSON'],
      [4, 'field "T-answer" is missing or empty'],
    ]);
    const ragged = writeTemp(dir, 'ragged.csv', 'slide_id,caption,features_path\nS1,ok,S1.pt\nS2,"unterminated\n');
    expect((await parseDataset(ragged)).problems[0].message).toMatch(/^malformed CSV: /);
  });

  it('refuses files whose format cannot be told, naming the file', async () => {
    await expect(parseDataset(writeTemp(dir, 'other.csv', 'a,b\n1,2\n'))).rejects.toThrow(FormatError);
    await expect(parseDataset(writeTemp(dir, 'other.json', '[{"x": 1}]'))).rejects.toThrow(/other\.json: unknown JSON dataset/);
    await expect(parseDataset(writeTemp(dir, 'bad.json', '[{'))).rejects.toThrow(/bad\.json: not valid JSON/);
    // Where it breaks, as an editor counts: line 3, column 14 (where the comma is missing).
    const broken = writeTemp(dir, 'broken.json', '[\n  {"id": "a", "image": ["a.pt"]},\n  {"id": "b" "image": ["b.pt"]}\n]\n');
    await expect(parseDataset(broken)).rejects.toThrow(`${broken}: not valid JSON (Expected ',' or '}' after property value in JSON at line 3, column 14)`);
  });
});
