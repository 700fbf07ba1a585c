/**
 * Data-parallel training through the real command line: `wsi-vqa launch` starts two ranks of
 * `wsi-vqa train` that meet over Gloo, each on half of every global batch, with and without
 * ZeRO-1 (without it, in small gradient buckets summed while the backward pass runs). They must
 * end (after one step, and after ten) with the weights and optimizer state of one process on the
 * whole batch. Only the order of floating-point sums differs, so the weights agree to float32
 * rounding, amplified a little by Adam's division by √v. A resumed ZeRO-1 run ends bit for bit
 * where the uninterrupted one did, and its checkpoint resumed by one process where the
 * one-process run did.
 */
import { cp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { info } from '../../lib/info.js';
import { tempDir } from '../io/helpers.js';
import { largestDifference, stage2Run, wsiVqa } from './runs.js';

const TOLERANCE = 2e-5;

describe.skipIf(!info().backends.gloo.compiled)('data-parallel training over Gloo', () => {
  it('two ranks (with and without ZeRO-1) end one and ten steps with the weights of one rank on the same global batch, and resume exactly', async () => {
    const root = tempDir();
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1000);
    console.log(`data-parallel test seed ${seed}`);
    // A global batch of 4 of the 8 samples: 2 steps an epoch.
    const { train } = await stage2Run(root, seed);
    const single = join(root, 'single');
    const ddp = join(root, 'ddp');
    const zero = join(root, 'zero1');
    await wsiVqa(train(single, 4));
    // Buckets of 1 KiB: most start during the backward pass, layer by layer.
    await wsiVqa(['launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(ddp, 2), '--bucket-cap-mb', String(1 / 1024)]);
    await wsiVqa(['launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(zero, 2), '--zero1']);

    for (const run of [ddp, zero]) {
      for (const checkpoint of ['step-1', 'final']) {
        const difference = await largestDifference(join(single, checkpoint), join(run, checkpoint));
        console.log(`${run.split('/').at(-1)} ${checkpoint}: largest difference ${difference.toExponential(2)}`);
        expect(difference).toBeLessThan(TOLERANCE);
      }
    }
    // Every rank resumes: drop the ZeRO-1 run's last five checkpoints, resume, end where it ended.
    // And on another world size: one process resumes the two ranks' step 5 with the whole batch.
    await rename(join(zero, 'final'), join(root, 'zero1-final'));
    for (let step = 6; step < 10; step++) await rm(join(zero, `step-${step}`), { recursive: true });
    const alone = join(root, 'zero1-resumed-alone');
    await cp(zero, alone, { recursive: true });
    await wsiVqa(['launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(zero, 2), '--zero1', '--resume']);
    expect(await largestDifference(join(root, 'zero1-final'), join(zero, 'final'))).toBe(0);
    expect(await wsiVqa([...train(alone, 4), '--resume'])).toMatch(/resumed from \S*step-5 at step 5/);
    const resumedAlone = await largestDifference(join(single, 'final'), join(alone, 'final'));
    console.log(`two ranks' step 5 resumed by one process: largest difference ${resumedAlone.toExponential(2)}`);
    expect(resumedAlone).toBeLessThan(TOLERANCE);
    // The weights moved: the comparison is not between two untouched models.
    expect(await largestDifference(join(single, 'step-1'), join(single, 'final'), { files: ['projector.safetensors'] })).toBeGreaterThan(1e-3);
  }, 300_000);
});
