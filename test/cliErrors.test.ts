/**
 * Ordinary mistakes on the command line: each is one line `error: …` with a hint on stderr and
 * exit code 1, no stack trace; `--verbose` (or WSI_VQA_VERBOSE=1) adds the stack.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../lib/demo/synth.js';

const cli = fileURLToPath(new URL('../dist/cli/wsi-vqa.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wsi-vqa-cli-errors-'));
let labels = '';
let slide = '';

function wsiVqa(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

beforeAll(async () => {
  const data = await makeSyntheticDataset(join(dir, 'data'), { trainSlides: 2, testSlides: 1, patches: [4, 8] });
  labels = data.labelsCsv;
  slide = join(data.featuresDir, 'SYN-0000.safetensors');
});

describe('a CLI mistake is one line and exit code 1', () => {
  const out = () => join(dir, 'out');
  const mistakes: [name: string, args: () => string[], says: RegExp][] = [
    ['a missing data file', () => ['train', '--stage', '0', '--data-path', join(dir, 'missing.csv'), '--output-dir', out()], /missing\.csv.*no such file\); check the path/],
    ['--stage 3', () => ['train', '--stage', '3', '--data-path', labels, '--output-dir', out()], /0 \(compressor\), 1 \(projector\) or 2/],
    ['--batch-size 0', () => ['train', '--stage', '0', '--data-path', labels, '--output-dir', out(), '--batch-size', '0'], /batch/i],
    ['stage 1 without --llm-path', () => ['train', '--stage', '1', '--data-path', labels, '--output-dir', out()], /--llm-path/],
    ['a missing model folder', () => ['ask', '--llm-path', join(dir, 'no-model'), '--slide', slide, '--question', 'Which organ?'], /no-model/],
    ['an op without a benchmark', () => ['bench', 'dropout'], /no benchmark for dropout; there are: .*attention/],
    ['an unknown option', () => ['train', '--stage', '0', '--data-path', labels, '--output-dir', out(), '--epochs', '2'], /unknown option '--epochs'/],
  ];
  for (const [name, args, says] of mistakes) {
    it(name, () => {
      const run = wsiVqa(args());
      expect(run.status, run.stderr).toBe(1);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(says);
    });
  }

  it('--verbose and WSI_VQA_VERBOSE=1 add the stack trace', () => {
    const args = ['train', '--stage', '0', '--data-path', join(dir, 'missing.csv'), '--output-dir', out()];
    for (const run of [wsiVqa([...args, '--verbose']), wsiVqa(args, { WSI_VQA_VERBOSE: '1' })]) {
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^error: .*missing\.csv/);
      expect(run.stderr).toMatch(/\n\s+at .*readDataset|\n\s+at /);
    }
  });
});
