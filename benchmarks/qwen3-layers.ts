/**
 * RMSNorm, RoPE, SwiGLU and AdamW on Qwen3-4B shapes (issue 3): our ops through benchmarkOps,
 * written as JSON for benchmarks/torch_qwen3_layers.py, which times eager PyTorch on the same
 * shapes and prints the ratios.
 *
 *   benchmarks/run-qwen3-layers.sh [--device cpu|cuda:N] [--tokens T]
 */
import { writeFileSync } from 'node:fs';
import { benchmarkOps } from '../lib/bench/run.js';
import { info } from '../lib/info.js';
import type { Device } from '../lib/tensor.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const device = (option('--device') ?? (info().backends.cuda.available ? 'cuda:0' : 'cpu')) as Device;
const tokens = Number(option('--tokens') ?? (device === 'cpu' ? 256 : 2048));
const dtype = device === 'cpu' ? 'f32' : 'bf16';
const results = benchmarkOps({ device, dtype, tokens, ops: ['rms_norm', 'rope', 'swiglu', 'adamw'] });
for (const r of results) console.log(`${r.op.padEnd(10)} ${r.label.padEnd(28)} ${r.dtype} ${r.ms.toFixed(3).padStart(9)} ms ${(r.gbps ?? 0).toFixed(1).padStart(8)} GB/s`);
writeFileSync('build/bench/qwen3-layers.json', JSON.stringify({ device, dtype, tokens, results }, null, 1));
