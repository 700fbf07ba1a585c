import { describe, expect, it } from 'vitest';
import { benchmarkOps, benchmarkableOps } from '../lib/bench/run.js';

describe('benchmarkOps', () => {
  it('runs every op that has a microbenchmark on the CPU and reports its rate', () => {
    const results = benchmarkOps({ device: 'cpu', tokens: 4, minTimeMs: 1, ops: benchmarkableOps().filter((op) => op !== 'adamw') });
    expect(new Set(results.map((r) => r.op))).toEqual(new Set(benchmarkableOps().filter((op) => op !== 'adamw')));
    for (const r of results) {
      expect(r.ms, r.label).toBeGreaterThan(0);
      expect((r.tflops ?? 0) + (r.gbps ?? 0), r.label).toBeGreaterThan(0);
    }
  });
});
