/**
 * Microbenchmarks of the op table, callable from code and from `wsi-vqa bench`. Each case runs
 * a few warm-up calls, then repeats until a minimum time has passed; the median call time gives
 * TFLOP/s or GB/s. On a GPU each call is followed by a device synchronize, so times include
 * the kernel, not just its launch.
 */
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import type { Device } from '../native.js';
import { runOp, supports } from '../ops.js';
import { defaultTokens } from './qwen3Shapes.js';
import { BENCH_SPECS } from './specs.js';

export interface BenchOptions {
  /** Ops to run; default every op with a benchmark. */
  ops?: string[];
  /** Default `'cpu'`. */
  device?: Device;
  /** Default `'bf16'` on CUDA, `'f32'` on the CPU. */
  dtype?: DType;
  /** Tokens per call; default 2048 on CUDA and 64 on the CPU (Qwen3-4B widths either way). */
  tokens?: number;
  /** Minimum measuring time per case in milliseconds. Default 300. */
  minTimeMs?: number;
  /** Called after each case. */
  onResult?: (result: BenchResult) => void;
}

export interface BenchResult {
  op: string;
  label: string;
  device: Device;
  dtype: DType;
  /** Median milliseconds per call. */
  ms: number;
  iterations: number;
  tflops?: number;
  gbps?: number;
}

/** The ops that have a microbenchmark. */
export function benchmarkableOps(): string[] {
  return BENCH_SPECS.map((spec) => spec.op);
}

/** Runs the microbenchmarks and returns one result per case. */
export function benchmarkOps(options: BenchOptions = {}): BenchResult[] {
  const device = options.device ?? 'cpu';
  const dtype = options.dtype ?? (device === 'cpu' ? 'f32' : 'bf16');
  const tokens = options.tokens ?? defaultTokens(device);
  const minTimeMs = options.minTimeMs ?? 300;
  const wanted = options.ops ?? benchmarkableOps();
  const unknown = wanted.filter((op) => !benchmarkableOps().includes(op));
  if (unknown.length > 0) throw new RangeError(`no benchmark for ${unknown.join(', ')}; there are: ${benchmarkableOps().join(', ')}`);

  const results: BenchResult[] = [];
  for (const spec of BENCH_SPECS.filter((s) => wanted.includes(s.op) && (s.uses ?? [s.op]).every((op) => supports(op, device)))) {
    for (const c of spec.cases(tokens, device, dtype)) {
      try {
        const call = (): void => {
          if (c.run) c.run();
          else runOp(c.op, c.args);
          if (device !== 'cpu') native.synchronize();
        };
        for (let i = 0; i < 3; i++) call();
        const times: number[] = [];
        const start = performance.now();
        while (performance.now() - start < minTimeMs || times.length < 5) {
          const t0 = performance.now();
          call();
          times.push(performance.now() - t0);
        }
        times.sort((a, b) => a - b);
        const ms = times[Math.floor(times.length / 2)];
        const result: BenchResult = { op: c.op, label: c.label, device, dtype: c.dtype ?? dtype, ms, iterations: times.length };
        if (c.flops) result.tflops = c.flops / (ms * 1e-3) / 1e12;
        if (c.bytes) result.gbps = c.bytes / (ms * 1e-3) / 1e9;
        results.push(result);
        options.onResult?.(result);
      } finally {
        for (const t of c.tensors) t.dispose();
        c.release?.();
      }
    }
  }
  return results;
}
