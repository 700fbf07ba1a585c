/**
 * Decoding with a KV cache gives what full causal attention gives: for each sequence of a padded
 * batch, attentionDecode of its last valid query against caches holding its keys and values
 * equals that row of attention over the whole sequence — on every backend present.
 */
import { describe, expect, it } from 'vitest';

import { attention, attentionDecode } from '../../lib/attentionOps.js';
import type { DType } from '../../lib/dtype.js';
import { Tensor } from '../../lib/tensor.js';
import { backends, compare } from './harness.js';
import { caseSeed, Rng } from './random.js';

const B = 3;
const T = 45;
const HQ = 8;
const HKV = 2;
const D = 64;
const LENS = [45, 1, 30];

for (const { device, available } of backends()) {
  describe(`attention decode on ${device}`, () => {
    for (const dtype of ['f32', 'bf16'] as DType[]) {
      it.skipIf(!available)(`${dtype}: decode equals the last valid row of causal attention`, () => {
        const rng = new Rng(caseSeed(`decode-vs-full ${dtype}`));
        const values = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
        using q = Tensor.from(values(B * T * HQ * D), [B, T, HQ, D], { dtype, device });
        using k = Tensor.from(values(B * T * HKV * D), [B, T, HKV, D], { dtype, device });
        using v = Tensor.from(values(B * T * HKV * D), [B, T, HKV, D], { dtype, device });
        using lens = Tensor.from(Int32Array.from(LENS), [B], { device });
        const full = attention(q, k, v, { seqLens: lens });
        using out = full.out;
        using lse = full.lse;
        void lse;

        // The last valid query of each sequence, (B, Hq, D); the caches are k and v themselves.
        const qAll = q.toFloat32();
        const last = new Float32Array(B * HQ * D);
        for (let b = 0; b < B; b++) {
          const row = (b * T + LENS[b] - 1) * HQ * D;
          last.set(qAll.subarray(row, row + HQ * D), b * HQ * D);
        }
        using qLast = Tensor.from(last, [B, HQ, D], { dtype, device });
        using decoded = attentionDecode(qLast, k, v, lens);

        const outAll = out.toFloat32();
        const expected = new Float32Array(B * HQ * D);
        for (let b = 0; b < B; b++) {
          const row = (b * T + LENS[b] - 1) * HQ * D;
          expected.set(outAll.subarray(row, row + HQ * D), b * HQ * D);
        }
        // Both round the same f32 result to the dtype, summing in different orders.
        const tol = dtype === 'f32' ? { atol: 1e-5, rtol: 1e-4, normalized: 1e-5 } : { atol: 1e-2, rtol: 1e-2, normalized: 4e-3 };
        expect(compare(decoded.toFloat32(), expected, tol)).toEqual([]);
      });
    }
  });
}
