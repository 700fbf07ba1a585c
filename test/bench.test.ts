import { describe, expect, it } from 'vitest';
import { benchmarkOps, benchmarkableOps } from '../lib/bench/run.js';

describe('benchmarkOps', () => {
  it('runs every op that has a microbenchmark on the CPU and reports its rate', () => {
    // adamw and linear_cross_entropy work on whole Qwen3-4B weights (the LM head alone is 1.5 GB in f32): not here.
    const ops = benchmarkableOps().filter((op) => op !== 'adamw' && op !== 'linear_cross_entropy');
    expect(ops).toEqual(expect.arrayContaining(['attention', 'attention_decode', 'moe_compressor']));
    const results = benchmarkOps({ device: 'cpu', tokens: 4, minTimeMs: 1, ops });
    expect(new Set(results.map((r) => r.op))).toEqual(new Set(ops));
    for (const r of results) {
      expect(r.ms, r.label).toBeGreaterThan(0);
      expect((r.tflops ?? 0) + (r.gbps ?? 0), r.label).toBeGreaterThan(0);
    }
  });
});
