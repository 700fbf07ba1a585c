/**
 * Run to run, every op gives the same bits for the same inputs (docs/ARCHITECTURE.md, "Determinism"): every case of the op
 * harness runs twice and its outputs are compared bit for bit. On the CPU that holds for every
 * op (every sum has a fixed order, whatever the threads). On CUDA it holds on one GPU model with
 * one toolkit and library version, except for the ops listed in docs/ARCHITECTURE.md
 * (Determinism), which still add with float atomics.
 */
import { describe, expect, it } from 'vitest';

import { supports } from '../../lib/ops.js';
import { allOpCases } from './cases/index.js';
import { backends, irreproducibleOutputs } from './harness.js';

/** CUDA ops whose sums still depend on the order the GPU's atomics land in. */
const CUDA_EXCEPTIONS = new Set(['sum_squares', 'embedding_backward']);

for (const { device, available } of backends()) {
  describe(`the same bits twice on ${device}`, () => {
    for (const testCase of allOpCases) {
      const exception = device !== 'cpu' && CUDA_EXCEPTIONS.has(testCase.op);
      const runs = available && supports(testCase.op, device) && !exception;
      it.skipIf(!runs)(testCase.name, () => expect(irreproducibleOutputs(testCase, device)).toEqual([]));
    }
  });
}
