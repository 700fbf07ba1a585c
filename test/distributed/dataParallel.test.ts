/**
 * Data-parallel training through the real command line: `wsi-vqa launch` starts two ranks of
 * `wsi-vqa train` that meet over Gloo, each on half of every global batch, with and without
 * ZeRO-1 (without it, in small gradient buckets summed while the backward pass runs). They must end (after one step, and after ten) with the weights and optimizer state of
 * one process on the whole batch. Only the order of floating-point sums differs, so the weights
 * agree to float32 rounding, amplified a little by Adam's division by √v. A resumed ZeRO-1 run
 * ends bit for bit where the uninterrupted one did.
 */
import { execFile } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../lib/demo/synth.js';
import { info } from '../../lib/info.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { toFloat32 } from '../../lib/io/storedTensor.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';
import { tempDir } from '../io/helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const TOLERANCE = 2e-5;

/** Every tensor of every safetensors file of two checkpoint folders: the largest difference. */
async function largestDifference(a: string, b: string, files: string[]): Promise<number> {
  let largest = 0;
  for (const file of files) {
    const [left, right] = [await readSafetensors(join(a, file)), await readSafetensors(join(b, file))];
    expect([...right.tensors.keys()].sort()).toEqual([...left.tensors.keys()].sort());
    for (const [name, tensor] of left.tensors) {
      const x = toFloat32(tensor, file, name);
      const y = toFloat32(right.tensors.get(name)!, file, name);
      for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i] - y[i]));
    }
  }
  return largest;
}

describe.skipIf(!info().backends.gloo.compiled)('data-parallel training over Gloo', () => {
  it('two ranks (with and without ZeRO-1) end one and ten steps with the weights of one rank on the same global batch, and resume exactly', async () => {
    const root = tempDir();
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1000);
    console.log(`data-parallel test seed ${seed}`);
    // 4 slides, two conversations each: 8 samples, a global batch of 4, 2 steps an epoch.
    const data = await makeSyntheticDataset(join(root, 'data'), { trainSlides: 4, testSlides: 1, patches: [5, 9], seed });
    const llm = join(root, 'llm');
    await makeTinyQwen3(llm, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed });
    const train = (out: string, batch: number) =>
      ['train', '--stage', '2', '--llm-path', llm, '--data-path', data.conversationsJson, '--output-dir', out, '--batch-size', String(batch), '--num-epochs', '5', '--lr', '1e-3', '--save-every', '1', '--seed', String(seed)];
    const single = join(root, 'single');
    const ddp = join(root, 'ddp');
    const zero = join(root, 'zero1');
    await run(process.execPath, [CLI, ...train(single, 4)]);
    // Buckets of 1 KiB: most start during the backward pass, layer by layer.
    await run(process.execPath, [CLI, 'launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(ddp, 2), '--bucket-cap-mb', String(1 / 1024)]);
    await run(process.execPath, [CLI, 'launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(zero, 2), '--zero1']);

    const files = ['projector.safetensors', 'llm/model.safetensors', 'optimizer.safetensors'];
    for (const run of [ddp, zero]) {
      for (const checkpoint of ['step-1', 'final']) {
        const difference = await largestDifference(join(single, checkpoint), join(run, checkpoint), files);
        console.log(`${run.split('/').at(-1)} ${checkpoint}: largest difference ${difference.toExponential(2)}`);
        expect(difference).toBeLessThan(TOLERANCE);
      }
    }
    // Every rank resumes: drop the ZeRO-1 run's last five checkpoints, resume, end where it ended.
    await rename(join(zero, 'final'), join(root, 'zero1-final'));
    for (let step = 6; step < 10; step++) await rm(join(zero, `step-${step}`), { recursive: true });
    await run(process.execPath, [CLI, 'launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...train(zero, 2), '--zero1', '--resume']);
    expect(await largestDifference(join(root, 'zero1-final'), join(zero, 'final'), files)).toBe(0);
    // The weights moved: the comparison is not between two untouched models.
    expect(await largestDifference(join(single, 'step-1'), join(single, 'final'), ['projector.safetensors'])).toBeGreaterThan(1e-3);
  }, 300_000);
});
