/**
 * Our CPU GEMM (the matmul op, f32) on the Qwen3-4B projections at the given token counts: one
 * JSON line per shape with the median milliseconds. benchmarks/run-cpu-gemm.sh runs it in rounds
 * beside numpy's (OpenBLAS) and prints the ratios.
 *
 *   node build/bench/benchmarks/cpu-gemm.js [--tokens 64,512] [--min-time ms]
 */
import { benchmarkOps } from '../lib/bench/run.js';
import { info } from '../lib/info.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const tokenCounts = (option('--tokens') ?? '64,512').split(',').map(Number);
const minTimeMs = Number(option('--min-time') ?? 1000);
const { threads } = info().backends.cpu;
for (const tokens of tokenCounts) {
  for (const r of benchmarkOps({ device: 'cpu', dtype: 'f32', tokens, ops: ['matmul'], minTimeMs })) {
    console.log(JSON.stringify({ who: 'ours', label: r.label.split(' ')[0], tokens, ms: r.ms, threads }));
  }
}
