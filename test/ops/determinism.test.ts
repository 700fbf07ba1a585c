/**
 * Run to run, every op gives the same bits for the same inputs (docs/ARCHITECTURE.md, "Determinism"): every case of the op
 * harness runs twice and its outputs are compared bit for bit. On the CPU that holds for every
 * op (every sum has a fixed order, whatever the threads). On CUDA it holds on one GPU model with
 * one toolkit and library version (unless WSI_VQA_CUDA_SUMS=atomic brings back the float-atomic
 * sum_squares and embedding_backward).
 */
import { describe, expect, it } from 'vitest';

import { supports } from '../../lib/ops.js';
import { allOpCases } from './cases/index.js';
import { backends, irreproducibleOutputs } from './harness.js';

for (const { device, available } of backends()) {
  describe(`the same bits twice on ${device}`, () => {
    for (const testCase of allOpCases) {
      const runs = available && supports(testCase.op, device);
      it.skipIf(!runs)(testCase.name, () => expect(irreproducibleOutputs(testCase, device)).toEqual([]));
    }
  });
}
