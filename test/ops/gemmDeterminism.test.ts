/**
 * The CPU GEMM (and the fused cross-entropy with its vectorised softmax) gives the same bits
 * whatever the number of threads and whichever of the AVX-512 and AVX2 kernels runs (both make
 * the same chains of fused multiply-adds and sums), which bit-identical resume on the CPU relies on. Each configuration is a fresh process, since the pool and the
 * kernel are chosen once per process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/gemmBits.mjs', import.meta.url));
const library = pathToFileURL(fileURLToPath(new URL('../../dist/index.js', import.meta.url))).href;

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, [script, library], { encoding: 'utf8', env: { ...process.env, ...env } });
}

function bits(env: Record<string, string>): { threads: number; gemm: string; hash: string } {
  const result = run(env);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout);
}

describe('the CPU GEMM', () => {
  it('gives the same bits on 1, 2 and 3 threads and with the AVX2 kernel', () => {
    const one = bits({ WSI_VQA_CPU_THREADS: '1' });
    expect(one.threads).toBe(1);
    expect(one.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const threads of [2, 3]) expect(bits({ WSI_VQA_CPU_THREADS: String(threads) })).toEqual({ ...one, threads });
    const avx2 = run({ WSI_VQA_CPU_THREADS: '3', WSI_VQA_CPU_GEMM: 'avx2' });
    // A CPU without AVX2 refuses the request by name; one with it must agree to the bit.
    if (avx2.status === 0) expect(JSON.parse(avx2.stdout)).toEqual({ threads: 3, gemm: 'avx2', hash: one.hash });
    else expect(avx2.stderr).toMatch(/WSI_VQA_CPU_GEMM=avx2: this CPU lacks it/);
  });

  it('runs the portable kernel when asked (other bits: no fused multiply-add)', () => {
    expect(bits({ WSI_VQA_CPU_GEMM: 'portable' }).gemm).toBe('portable');
  });

  it('refuses a kernel or thread count it does not know, naming the variable', () => {
    const kernel = run({ WSI_VQA_CPU_GEMM: 'sse9' });
    expect(kernel.status).not.toBe(0);
    expect(kernel.stderr).toMatch(/WSI_VQA_CPU_GEMM must be 'avx512', 'avx2', 'portable' or 'auto', got 'sse9'/);
    const threads = run({ WSI_VQA_CPU_THREADS: '0' });
    expect(threads.status).not.toBe(0);
    expect(threads.stderr).toMatch(/WSI_VQA_CPU_THREADS must be a whole number from 1 to 1024, got '0'/);
  });
});
