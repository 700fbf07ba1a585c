/** The `wsi-vqa` command as users run it: the compiled CLI in dist/ (npm test builds it first). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

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
