/**
 * One rank in a process group — all that a one-GPU machine can show of NCCL — ends where the
 * same run without a group did: the parameters broadcast, the gradients summed in buckets that
 * start during the backward pass, or (ZeRO-1) reduce-scattered and the parameters all-gathered,
 * change nothing. Over Gloo on the CPU; over NCCL on cuda:0 when a GPU and libnccl are there.
 *
 * On the CPU the bucketed run is bit for bit the single one. ZeRO-1 sums its gradient norm per
 * shard (in f64, then the square root), which may round the clipping factor one ulp apart: a
 * few 1e-7 at most after ten steps. On the GPU the embedding gradients and the gradient norm are
 * summed with atomics, in no fixed order, so no two runs agree to the bit: both runs are held to
 * the tolerance of the two-rank test, on their f32 state (masters, moments, f32 weights).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessGroup } from '../../lib/distributed/processGroup.js';
import { MissingLibraryError, UnsupportedError } from '../../lib/errors.js';
import { info } from '../../lib/info.js';
import { tempDir } from '../io/helpers.js';
import { largestDifference, stage2Run, wsiVqa } from './runs.js';

const TOLERANCE = 2e-5;
const backends = info().backends;
const cases = [
  { backend: 'gloo', device: 'cpu', runs: backends.gloo.compiled, bucketsExact: true },
  { backend: 'nccl', device: 'cuda:0', runs: backends.cuda.available && backends.cuda.nccl !== null, bucketsExact: false },
];

describe.each(cases)('a world of one rank over $backend', ({ device, runs, bucketsExact }) => {
  it.skipIf(!runs)('ends one and ten steps where the single process did, with and without ZeRO-1', async () => {
    const root = tempDir();
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1000);
    console.log(`world-size-1 test seed ${seed}`);
    const { train } = await stage2Run(root, seed);
    const run = (out: string) => [...train(join(root, out), 4), '--device', device];
    await wsiVqa(run('single'));
    await wsiVqa(['launch', '--nproc-per-node', '1', 'wsi-vqa', '--', ...run('ddp'), '--bucket-cap-mb', String(1 / 1024)]);
    await wsiVqa(['launch', '--nproc-per-node', '1', 'wsi-vqa', '--', ...run('zero1'), '--zero1']);
    const outs = ['ddp', 'zero1'];
    if (device !== 'cpu') {
      // bf16 buckets (NCCL only): one rank's sum is its own gradient rounded to bf16, so the run
      // differs from the single one only by that rounding (2^-9 relative) inside Adam's steps.
      await wsiVqa(['launch', '--nproc-per-node', '1', 'wsi-vqa', '--', ...run('ddp-bf16'), '--grad-reduce-dtype', 'bf16']);
      outs.push('ddp-bf16');
    }
    for (const out of outs) {
      for (const checkpoint of ['step-1', 'final']) {
        const difference = await largestDifference(join(root, 'single', checkpoint), join(root, out, checkpoint), { f32Only: device !== 'cpu' });
        console.log(`${device} ${out} ${checkpoint}: largest difference ${difference.toExponential(2)}`);
        if (out === 'ddp' && bucketsExact) expect(difference).toBe(0);
        else expect(difference).toBeLessThan(out === 'ddp-bf16' ? 10 * TOLERANCE : TOLERANCE);
      }
    }
    // The weights moved: the comparison is not between two untouched models.
    expect(await largestDifference(join(root, 'single', 'step-1'), join(root, 'single', 'final'), { files: ['optimizer.safetensors'] })).toBeGreaterThan(1e-4);
  }, 300_000);
});

describe.skipIf(backends.cuda.nccl !== null)('an NCCL group where there is no NCCL', () => {
  it('is a typed error naming what is missing, and frees the rendezvous port', async () => {
    const expected = backends.cuda.compiled ? MissingLibraryError : UnsupportedError;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const init = () => ProcessGroup.init({ rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, backend: 'nccl', timeoutMs: 2000 });
    await expect(init()).rejects.toThrow(expected);
    await expect(init()).rejects.toThrow(expected); // not EADDRINUSE: the first left no store behind
  });
});
