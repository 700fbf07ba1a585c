/** The `wsi-vqa` command as users run it: the compiled CLI in dist/ (npm test builds it first). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { makeTinyQwen3 } from '../lib/model/tinyQwen3.js';

const cli = fileURLToPath(new URL('../dist/cli/wsi-vqa.js', import.meta.url));

describe('wsi-vqa info', () => {
  it('--json reports the version, the CPU backend, whether CUDA is compiled in, and the ops', () => {
    const report = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' }));
    expect(report.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.backends.cpu.available).toBe(true);
    expect(typeof report.backends.cuda.compiled).toBe('boolean');
    expect(typeof report.backends.cuda.available).toBe('boolean');
    expect(Array.isArray(report.backends.cuda.devices)).toBe(true);
    expect(report.backends.cuda).toHaveProperty('cublasLt');
    expect(report.backends.cuda).toHaveProperty('nccl');
    expect(report.ops).toEqual(expect.arrayContaining(['matmul', 'add', 'scale', 'softmax']));
  });
});

describe('wsi-vqa synth', () => {
  it('writes the synthetic dataset and says where; a bad number is an error naming the option', () => {
    const out = mkdtempSync(join(tmpdir(), 'wsi-vqa-synth-'));
    const report = JSON.parse(execFileSync(process.execPath, [cli, 'synth', '--out', out, '--train-slides', '4', '--test-slides', '2', '--json'], { encoding: 'utf8' }));
    expect(report.questions).toBe(4);
    expect(existsSync(report.benchmarkJson)).toBe(true);
    const failed = spawnSync(process.execPath, [cli, 'synth', '--out', out, '--seed', '-3'], { encoding: 'utf8' });
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/--seed <n>.*'-3' is invalid/);
  });
});

describe('wsi-vqa train, eval, ask', () => {
  it('trains stage 0 and stage 2 from flags, evaluates the result and answers a question', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsi-vqa-cli-'));
    const run = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const data = JSON.parse(run('synth', '--out', join(dir, 'data'), '--train-slides', '6', '--test-slides', '2', '--json'));
    await makeTinyQwen3(join(dir, 'llm'), { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 32, seed: 1 });

    run('train', '--stage', '0', '--data-path', data.labelsCsv, '--output-dir', join(dir, 's0'), '--batch-size', '3');
    expect(existsSync(join(dir, 's0', 'final', 'compressor.safetensors'))).toBe(true);
    run('train', '--stage', '2', '--llm-path', join(dir, 'llm'), '--moe-checkpoint', join(dir, 's0', 'final', 'compressor.safetensors'),
      '--data-path', data.conversationsJson, '--output-dir', join(dir, 's2'), '--batch-size', '4', '--gradient-accumulation-steps', '2', '--lr', '1e-3');
    for (const file of ['final/projector.safetensors', 'final/llm/model.safetensors', 'final/llm/tokenizer.json', 'metrics.jsonl', 'report.html']) {
      expect(existsSync(join(dir, 's2', file)), file).toBe(true);
    }

    const model = ['--llm-path', join(dir, 's2', 'final', 'llm'), '--moe-checkpoint', join(dir, 's0', 'final', 'compressor.safetensors'), '--load-projector', join(dir, 's2', 'final', 'projector.safetensors')];
    const summary = JSON.parse(run('eval', ...model, '--data-path', data.benchmarkJson, '--output-dir', join(dir, 'eval'), '--json'));
    expect(summary.questions).toBe(4);
    expect(Object.keys(summary).sort()).toEqual(['blind', 'majorityBaseline', 'model', 'questions', 'shuffled']);
    expect(existsSync(join(dir, 'eval', 'results.json'))).toBe(true);
    const openFile = join(dir, 'open.json');
    writeFileSync(openFile, JSON.stringify([{ slide_id: 'SYN-0000', question: 'Describe the slide.', answer: 'Section of lung tissue with necrosis.', features_path: join(data.featuresDir, 'SYN-0000.safetensors') }]));
    const open = JSON.parse(run('eval', ...model, '--data-path', openFile, '--output-dir', join(dir, 'open'), '--json'));
    expect(open.questions).toBe(1);
    expect(open.bleu4).toBeGreaterThanOrEqual(0);
    expect(open.rougeL).toBeLessThanOrEqual(1);
    expect(existsSync(join(dir, 'open', 'open_results.json'))).toBe(true);
    // A WSI-VQA file with both kinds: both parts, each under its heading.
    const mixedFile = join(dir, 'mixed.json');
    writeFileSync(mixedFile, JSON.stringify([
      { Id: 'SYN-0000', Question: 'Which organ is this tissue from?', Choice: ['lung', 'breast', 'colon', 'kidney'], Answer: 'lung' },
      { Id: 'SYN-0001', Question: 'Describe the slide.', Answer: 'Section of lung tissue with necrosis.' },
    ]));
    const mixed = run('eval', ...model, '--data-path', mixedFile, '--features-dir', data.featuresDir, '--output-dir', join(dir, 'mixed'));
    expect(mixed).toMatch(/^multipleChoice:\n {2}model: [\d.]+\n[\s\S]*\n {2}questions: 1\nopen:\n {2}bleu1: [\d.]+\n[\s\S]* {2}questions: 1\n$/);
    const answer = run('ask', ...model, '--slide', join(data.featuresDir, 'SYN-0000.safetensors'), '--question', 'Which organ is this tissue from?', '--max-new-tokens', '4');
    expect(typeof answer).toBe('string');

    const bad = spawnSync(process.execPath, [cli, 'train', '--stage', '3', '--data-path', data.labelsCsv, '--output-dir', join(dir, 'bad')], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/0 \(compressor\), 1 \(projector\) or 2/);
  }, 300_000);
});
