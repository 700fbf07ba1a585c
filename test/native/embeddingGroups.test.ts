/**
 * The grouping of the fixed-order CUDA embedding backward (native/cuda/embedding_groups.h),
 * checked on the CPU: embedding_groups_check.cpp checks the groups over random ids (seed
 * printed) and that adding each group's rows in order gives the CPU backend's bits.
 */
import { expect, it } from 'vitest';

import { compileAndRun } from './gxx.js';

it('the embedding backward groups rows by id in the CPU backend order of additions', () => {
  const { stdout, status } = compileAndRun('embedding_groups_check.cpp');
  console.log(stdout.split('\n')[0]);
  expect(stdout.trim().split('\n').filter((line) => !/^(seed|checked) /.test(line))).toEqual([]);
  expect(status).toBe(0);
  expect(stdout).toMatch(/checked 400 cases/);
});
