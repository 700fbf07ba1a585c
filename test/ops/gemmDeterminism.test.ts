/**
 * The CPU GEMM gives the same bits whatever the number of threads and whichever micro-kernel runs
 * (AVX-512 and AVX2 make the same chain of fused multiply-adds), which bit-identical resume on
 * the CPU relies on. Each configuration is a fresh process, since the pool and the kernel are
 * chosen once per process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/gemmBits.mjs', import.meta.url));
const library = pathToFileURL(fileURLToPath(new URL('../../dist/index.js', import.meta.url))).href;

function bits(env: Record<string, string>): string {
  return execFileSync(process.execPath, [script, library], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
}

describe('the CPU GEMM', () => {
  it('gives the same bits on 1, 2 and 3 threads and with the AVX2 kernel', () => {
    const reference = bits({ WSI_VQA_CPU_THREADS: '1' });
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
    expect(bits({ WSI_VQA_CPU_THREADS: '2' })).toBe(reference);
    expect(bits({ WSI_VQA_CPU_THREADS: '3' })).toBe(reference);
    const avx2 = spawnSync(process.execPath, [script, library], {
      encoding: 'utf8',
      env: { ...process.env, WSI_VQA_CPU_THREADS: '3', WSI_VQA_CPU_GEMM: 'avx2' },
    });
    // A CPU without AVX2 refuses the request by name; one with it must agree.
    if (avx2.status === 0) expect(avx2.stdout.trim()).toBe(reference);
    else expect(avx2.stderr).toMatch(/WSI_VQA_CPU_GEMM=avx2: this CPU lacks it/);
  });

  it('refuses a kernel or thread count it does not know, naming the variable', () => {
    const kernel = spawnSync(process.execPath, [script, library], { encoding: 'utf8', env: { ...process.env, WSI_VQA_CPU_GEMM: 'sse9' } });
    expect(kernel.status).not.toBe(0);
    expect(kernel.stderr).toMatch(/WSI_VQA_CPU_GEMM must be 'avx512', 'avx2', 'portable' or 'auto', got 'sse9'/);
    const threads = spawnSync(process.execPath, [script, library], { encoding: 'utf8', env: { ...process.env, WSI_VQA_CPU_THREADS: '0' } });
    expect(threads.status).not.toBe(0);
    expect(threads.stderr).toMatch(/WSI_VQA_CPU_THREADS must be a whole number from 1 to 1024, got '0'/);
  });
});
