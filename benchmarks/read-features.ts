/**
 * Reading one slide's features (issue 21): `readSlideFeatures` on 40 000 × 1024 float32 patches
 * (160 MB) as `.pt` (a tensor, and a {features, coords} dict), `.npy`, `.safetensors`, and 512-wide
 * `.npy` (widened to 1024), beside PyTorch's `torch.load` and numpy's `np.load` of the same files.
 *
 *   benchmarks/run-read-features.sh [--dir D] [--rounds N]
 *
 * The machine is shared and noisy, so each round times both sides back to back (PyTorch's in a
 * child process, ours here) and the ratios are per round. Ours includes everything a training
 * step gets: the read, the finiteness check of every value, the widening. The target: ≤ 150 ms
 * and ≥ 4× `torch.load` for `.npy`, `.pt` and `.safetensors`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSlideFeatures } from '../lib/io/features.js';
import { readNpy } from '../lib/io/npy.js';
import { writeSafetensors } from '../lib/io/safetensors.js';
import { medianMsAsync } from './timing.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const dir = option('--dir', '/tmp/wsi-vqa-read-features');
const rounds = Number(option('--rounds', '3'));
const python = process.env.PYTHON ?? '/usr/bin/python3';
const peerScript = new URL('../../../benchmarks/torch_read_features.py', import.meta.url).pathname;
const REPEATS = 7;
const TARGET_MS = 150;
const TARGET_RATIO = 4;

/** Ours against a peer's timing of the same (or the same data in another) file. */
const COMPARISONS: { file: string; peer: string }[] = [
  { file: 'tensor.pt', peer: 'torch.load tensor.pt' },
  { file: 'dict.pt', peer: 'torch.load dict.pt' },
  { file: 'plain.npy', peer: 'torch.load tensor.pt' },
  { file: 'plain.npy', peer: 'np.load plain.npy' },
  { file: 'features.safetensors', peer: 'torch.load tensor.pt' },
  { file: 'narrow512.npy', peer: 'np.load narrow512.npy' },
];


if (!existsSync(join(dir, 'narrow512.npy'))) execFileSync(python, [peerScript, 'make', dir], { stdio: 'inherit' });
if (!existsSync(join(dir, 'features.safetensors'))) {
  const plain = (await readNpy(join(dir, 'plain.npy'))).get('')!;
  await writeSafetensors(join(dir, 'features.safetensors'), { features: plain });
}

const files = [...new Set(COMPARISONS.map((c) => c.file))];
const ratios = new Map<string, number[]>();
const ours = new Map<string, number[]>();
for (let round = 1; round <= rounds; round++) {
  const peer = JSON.parse(execFileSync(python, [peerScript, 'time', dir], { encoding: 'utf8' })) as Record<string, number>;
  const mine = new Map<string, number>();
  for (const file of files) mine.set(file, await medianMsAsync(() => readSlideFeatures(join(dir, file)), REPEATS));
  console.log(`round ${round}`);
  for (const { file, peer: name } of COMPARISONS) {
    const ratio = peer[name] / mine.get(file)!;
    console.log(`  ${file.padEnd(22)} ours ${mine.get(file)!.toFixed(1).padStart(7)} ms   ${name.padEnd(22)} ${peer[name].toFixed(1).padStart(7)} ms   ratio ${ratio.toFixed(2)}×`);
    ratios.set(`${file} vs ${name}`, [...(ratios.get(`${file} vs ${name}`) ?? []), ratio]);
  }
  for (const file of files) ours.set(file, [...(ours.get(file) ?? []), mine.get(file)!]);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`\nmedian over ${rounds} rounds (ratio: the peer's time / ours; target ≤ ${TARGET_MS} ms and ≥ ${TARGET_RATIO}× torch.load)`);
for (const [key, values] of ratios) console.log(`  ${key.padEnd(48)} ${median(values).toFixed(2)}×`);
for (const [file, values] of ours) console.log(`  ${file.padEnd(22)} ours ${median(values).toFixed(1)} ms`);
