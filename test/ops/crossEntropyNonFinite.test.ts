/**
 * A NaN or infinite logit must come out as a non-finite loss, never as a finite number: the
 * trainer stops on it (TrainingError) instead of training on a silently wrong loss. The CPU's
 * vectorised exp clamps its inputs, so a NaN in the vector body, in the partial last vector, or
 * in the label's own logit is checked on every CPU path WSI_VQA_CPU_GEMM can pick here.
 */
import { describe, expect, it } from 'vitest';

import { linearCrossEntropy } from '../../lib/crossEntropy.js';
import { Tensor } from '../../lib/tensor.js';

const V = 37; // two vectors of 16 and a partial one

function lossWithWeightRow(row: number, value: number): number {
  const h = 2;
  const weight = Float32Array.from({ length: V * h }, (_, i) => Math.sin(i) / 2);
  weight[row * h] = value;
  using hidden = Tensor.from(Float32Array.of(0.5, -0.25, 1, 0.75), [2, h]);
  using w = Tensor.from(weight, [V, h]);
  const { loss, dHidden } = linearCrossEntropy(hidden, w, Int32Array.of(3, 30));
  dHidden?.dispose();
  return loss;
}

describe('linear cross-entropy with a non-finite logit', () => {
  for (const row of [0, 3, 17, 33, 36]) {
    it(`NaN in vocabulary row ${row} gives a NaN loss`, () => expect(lossWithWeightRow(row, Number.NaN)).toBeNaN());
    it(`+∞ in vocabulary row ${row} gives a non-finite loss`, () => expect(Number.isFinite(lossWithWeightRow(row, Number.POSITIVE_INFINITY))).toBe(false));
  }
  it('finite logits give a finite loss', () => expect(Number.isFinite(lossWithWeightRow(5, 3))).toBe(true));
});
