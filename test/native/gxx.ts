/**
 * Compiles one C++ check program of test/native with g++ (against native/cuda's headers) and
 * runs it: for the index and mask math the CUDA kernels share with the host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** stdout and exit status of test/native/<source> built with -Wall -Werror. */
export function compileAndRun(source: string): { stdout: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'wsi-native-check-'));
  try {
    const program = join(dir, 'check');
    const flags = ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', '-I', join(ROOT, 'native/cuda')];
    execFileSync('g++', [...flags, join(ROOT, 'test/native', source), '-o', program]);
    const run = spawnSync(program, { encoding: 'utf8' });
    return { stdout: run.stdout, status: run.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
