/** `wsi-vqa demo`: the whole pipeline on synthetic slides and a tiny Qwen3, on the CPU, with no downloads. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runDemo } from '../demo/demo.js';

/** Adds `demo [--out D] [--quick] [--json]` to `program`. */
export function registerDemoCommand(program: Command): Command {
  return program
    .command('demo')
    .description('make synthetic slides and a tiny Qwen3, train stages 0 → 1 → 2, evaluate against the majority, blind and shuffled-slide baselines, and write a report')
    .option('--out <dir>', "output folder: new, empty, or an earlier demo's, which is cleared (default: a new temporary folder)")
    .option('--quick', 'a smaller run of the same pipeline (as the tests run it)')
    .option('--train-compressor', 'train the compressor in stages 1 and 2 too (frozen after stage 0 by default)')
    .option('--keep-all', "keep the synthetic data, the initial model, stage 1's projector and the optimizer states too (by default only the report, the results and the final model stay)")
    .option('--json', 'print {accuracy, majorityBaseline, blindAccuracy, shuffledAccuracy, categories, trainCompressor, seconds, out} as JSON (also saved as demo.json)')
    .action(async (options: { out?: string; quick?: boolean; json?: boolean; trainCompressor?: boolean; keepAll?: boolean }) => {
      const out = options.out ?? mkdtempSync(join(tmpdir(), 'wsi-vqa-demo-'));
      const summary = await runDemo({ out, quick: options.quick, trainCompressor: options.trainCompressor, keepAll: options.keepAll });
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
