/** The harness must be able to fail: a checker that passes everything proves nothing. */
import { describe, expect, it } from 'vitest';

import { checkOpCase, compare, GUARD, guardProblems } from './harness.js';
import type { OpCase } from './harness.js';

const tol = { atol: 1e-6, rtol: 1e-6, normalized: 1e-6 };

describe('op harness', () => {
  it('passes equal values and fails one perturbed element', () => {
    const ref = Float64Array.from({ length: 1025 }, (_, i) => Math.sin(i));
    expect(compare(Float32Array.from(ref), ref, { ...tol, atol: 1e-6 })).toEqual([]);
    const perturbed = Float32Array.from(ref);
    perturbed[517] += 1e-3;
    expect(compare(perturbed, ref, tol).join('\n')).toMatch(/\[517\]/);
  });

  it('always fails NaN, and requires infinities to match', () => {
    expect(compare([NaN], [NaN], tol)).not.toEqual([]);
    expect(compare([1, NaN], [1, 2], tol)).not.toEqual([]);
    expect(compare([Infinity], [Infinity], tol)).toEqual([]);
    expect(compare([1e30], [Infinity], tol)).not.toEqual([]);
  });

  it('catches a small drift everywhere through the normalized error', () => {
    const ref = Float64Array.from({ length: 1000 }, () => 1);
    const drifted = ref.map((v) => v * (1 + 5e-6)); // within atol + rtol·|ref| element-wise…
    expect(compare(drifted, ref, { atol: 1e-5, rtol: 0, normalized: 1e-6 }).join()).toMatch(/normalized error/); // …not in the norm
  });

  it('fails an op whose result differs from the reference, naming the seed', () => {
    const wrong: OpCase = {
      name: 'scale with a wrong reference',
      op: 'scale',
      inputs: { x: { shape: [33] } },
      outputs: { out: { shape: [33] } },
      attrs: { scale: 2 },
      reference: (v) => ({ out: v.x.map((x, i) => (i === 32 ? 2 * x + 0.01 : 2 * x)) }),
    };
    expect(() => checkOpCase(wrong, 'cpu')).toThrow(/seed \d+.*out\[32\]/s);
  });

  it('catches writes outside the output through guard elements', () => {
    const n = 10;
    const all = new Float32Array(n + 2 * GUARD).fill(-1536);
    expect(guardProblems(all, n)).toEqual([]);
    all[GUARD + n] = 0; // one element past the end
    expect(guardProblems(all, n)).toEqual(['guard element 10 was overwritten with 0']);
    all[GUARD - 1] = 5; // one before the start
    expect(guardProblems(all, n)[0]).toBe('guard element -1 was overwritten with 5');
  });
});
