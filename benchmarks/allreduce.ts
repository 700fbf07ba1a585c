/**
 * All-reduce over the process group, each rank one process, against torch.distributed on the
 * same backend (Gloo on the CPU, NCCL on GPUs) in benchmarks/torch_allreduce.py:
 *
 *   benchmarks/run-allreduce.sh                       # 2 ranks on the CPU, then PyTorch
 *   benchmarks/run-allreduce.sh --ranks 8 --device cuda
 *
 * f32 tensors from 4 KiB to 100 MiB (a gradient bucket is 25 MiB), blocking and started-then-
 * waited; the median of 10 after warm-ups. Bus bandwidth as nccl-tests count it: each rank sends
 * and receives 2(N−1)/N of the tensor. Rank 0 prints a line per size and writes the numbers to
 * build/bench/allreduce.json for the PyTorch script to set beside its own.
 */
import { writeFileSync } from 'node:fs';
import { ProcessGroup, rendezvousFromEnv } from '../lib/distributed/processGroup.js';
import type { Device } from '../lib/native.js';
import { Tensor } from '../lib/tensor.js';
import { medianMs } from './timing.js';

const SIZES_MIB = [1 / 256, 1 / 16, 1, 25, 100];
const REPEATS = 10;

const rendezvous = rendezvousFromEnv();
if (!rendezvous) throw new Error('run this under wsi-vqa launch (benchmarks/run-allreduce.sh)');
const device: Device = process.env.BENCH_DEVICE === 'cuda' ? `cuda:${rendezvous.localRank}` : 'cpu';
const group = await ProcessGroup.init({ ...rendezvous, device });
const world = group.worldSize;
const results = [];
for (const mib of SIZES_MIB) {
  const elements = Math.round((mib * 2 ** 20) / 4);
  using t = Tensor.from(new Float32Array(elements).fill(1 / world), [elements], { device });
  // Each timed call ends with a host sum, which waits for every collective before it.
  const blockingMs = medianMs(() => (group.allReduce(t), group.sum([0])), REPEATS);
  const startedMs = medianMs(() => (group.allReduceAsync(t).wait(), group.sum([0])), REPEATS);
  const hostSumMs = medianMs(() => group.sum([0]), REPEATS);
  const ms = Math.max(blockingMs - hostSumMs, 1e-6);
  const busGBs = ((2 * (world - 1)) / world) * elements * 4 / (ms * 1e6);
  results.push({ mib, blockingMs, startedMs, hostSumMs, busGBs });
  if (group.rank === 0) {
    console.log(`all-reduce ${mib.toPrecision(3).padStart(6)} MiB on ${world} ranks (${group.backend}, ${device}): ${ms.toFixed(3)} ms, bus ${busGBs.toFixed(2)} GB/s; started + wait ${(startedMs - hostSumMs).toFixed(3)} ms`);
  }
}
if (group.rank === 0) writeFileSync('build/bench/allreduce.json', JSON.stringify({ world, backend: group.backend, device, results }, null, 1));
await group.close();
