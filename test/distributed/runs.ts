/** Runs of `wsi-vqa train` through the real command line, and the comparison of their checkpoints. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { makeSyntheticDataset } from '../../lib/demo/synth.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { toFloat32 } from '../../lib/io/storedTensor.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';

const CLI = fileURLToPath(new URL('../../dist/cli/wsi-vqa.js', import.meta.url));
const execute = promisify(execFile);

/** The safetensors files of a stage-2 checkpoint folder. */
export const CHECKPOINT_FILES = ['projector.safetensors', 'llm/model.safetensors', 'optimizer.safetensors'];

/** `wsi-vqa <args>`: what it wrote to stderr (its progress lines); rejects with its output when it fails. */
export async function wsiVqa(args: string[]): Promise<string> {
  return (await execute(process.execPath, [CLI, ...args])).stderr;
}

/**
 * A stage-2 run to compare: 4 synthetic slides of two conversations each (8 samples) and a tiny
 * Qwen3. `train(out, batch)` are the flags of five epochs of it, a checkpoint every step.
 */
export async function stage2Run(root: string, seed: number) {
  const data = await makeSyntheticDataset(join(root, 'data'), { trainSlides: 4, testSlides: 1, patches: [5, 9], seed });
  const llm = join(root, 'llm');
  await makeTinyQwen3(llm, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed });
  return {
    train: (out: string, batch: number) =>
      ['train', '--stage', '2', '--llm-path', llm, '--data-path', data.conversationsJson, '--output-dir', out, '--batch-size', String(batch), '--num-epochs', '5', '--lr', '1e-3', '--save-every', '1', '--seed', String(seed)],
  };
}

/**
 * The largest difference between the tensors of the named safetensors files of two checkpoint
 * folders. `f32Only` leaves out the bf16 weights (of a GPU run): their f32 master copies are in
 * the optimizer state, and a difference far below bf16's precision may still round them apart.
 */
export async function largestDifference(a: string, b: string, options: { files?: string[]; f32Only?: boolean } = {}): Promise<number> {
  let largest = 0;
  for (const file of options.files ?? CHECKPOINT_FILES) {
    const [left, right] = [await readSafetensors(join(a, file)), await readSafetensors(join(b, file))];
    expect([...right.tensors.keys()].sort()).toEqual([...left.tensors.keys()].sort());
    for (const [name, tensor] of left.tensors) {
      if (options.f32Only && tensor.dtype !== 'F32') continue;
      const x = toFloat32(tensor, file, name);
      const y = toFloat32(right.tensors.get(name)!, file, name);
      for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i] - y[i]));
    }
  }
  return largest;
}
