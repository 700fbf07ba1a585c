/**
 * The tile skipping and masking of the flash-attention kernels (native/cuda/attention_masks.h),
 * checked on the CPU: attention_masks_check.cpp compares each predicate with the op's rule over
 * every valid length up to 150, tile origins on the kernels' 16-row grid, the tile widths they
 * use, causal or not (about 460 000 tiles).
 */
import { expect, it } from 'vitest';

import { compileAndRun } from './gxx.js';

it('the flash kernels skip and mask exactly the pairs the op hides', () => {
  const { stdout, status } = compileAndRun('attention_masks_check.cpp');
  expect(stdout.trim().split('\n').filter((line) => !line.startsWith('checked '))).toEqual([]);
  expect(status).toBe(0);
  expect(stdout).toMatch(/checked \d+ tiles/);
});
