/**
 * Every op case on every backend present, against the float64 reference. A backend this machine
 * does not have (CUDA without a GPU) is reported as skipped, as is an op it does not implement.
 */
import { describe, it } from 'vitest';

import { supports } from '../../lib/ops.js';
import { allGradientCases, allOpCases } from './cases/index.js';
import { backends, checkGradientCase, checkOpCase } from './harness.js';
import { baseSeed } from './random.js';

console.log(`op tests: base seed ${baseSeed} (replay with WSI_TEST_SEED=${baseSeed})`);

for (const { device, available } of backends()) {
  describe(`ops on ${device}`, () => {
    for (const testCase of allOpCases) {
      const runs = available && supports(testCase.op, device);
      it.skipIf(!runs)(testCase.name, () => checkOpCase(testCase, device));
    }
    for (const testCase of allGradientCases) {
      it.skipIf(!available)(`gradient: ${testCase.name}`, () => checkGradientCase(testCase, device));
    }
  });
}
