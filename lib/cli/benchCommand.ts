import type { Command } from 'commander';

import { benchmarkOps } from '../bench/run.js';
import type { BenchResult } from '../bench/run.js';
import type { DType } from '../dtype.js';
import type { Device } from '../native.js';
import { integerOption, positiveIntegerOption } from './options.js';

function formatResult(r: BenchResult): string {
  const rate = r.tflops !== undefined ? `${r.tflops.toPrecision(3)} TFLOP/s` : r.gbps !== undefined ? `${r.gbps.toPrecision(3)} GB/s` : '';
  return `${r.op.padEnd(18)} ${r.label.padEnd(26)} ${r.dtype.padEnd(5)} ${r.ms.toFixed(3).padStart(10)} ms  ${rate}`;
}

/** `wsi-vqa bench [op …] [--device cpu|cuda] [--dtype] [--tokens N] [--json]`. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('microbenchmark ops and the MoE compressor at Qwen3-4B shapes (TFLOP/s or GB/s)')
    .argument('[ops...]', 'ops to run (default: all with a benchmark)')
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--dtype <dtype>', 'f32, bf16 or f16 (default: bf16 on CUDA, f32 on the CPU)')
    .option('--tokens <n>', 'tokens per call (default: 2048 on CUDA, 64 on the CPU)', positiveIntegerOption)
    .option('--min-time <ms>', 'minimum measuring time per case', integerOption, 300)
    .option('--json', 'print JSON')
    .action((ops: string[], options: { device: string; dtype?: DType; tokens?: number; minTime: number; json?: boolean }) => {
      const device = (options.device === 'cuda' ? 'cuda:0' : options.device) as Device;
      const results = benchmarkOps({
        ops: ops.length > 0 ? ops : undefined,
        device,
        dtype: options.dtype,
        tokens: options.tokens,
        minTimeMs: options.minTime,
        onResult: options.json ? undefined : (r) => console.log(formatResult(r)),
      });
      if (options.json) console.log(JSON.stringify(results, null, 2));
    });
}
