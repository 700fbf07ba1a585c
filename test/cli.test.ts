/** The `wsi-vqa` command as users run it: the compiled CLI in dist/ (npm test builds it first). */
import { execFileSync } from 'node:child_process';
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
