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
    .option('--out <dir>', 'output folder (default: a new temporary folder)')
    .option('--quick', 'a smaller run of the same pipeline (as the tests run it)')
    .option('--json', 'print {accuracy, majorityBaseline, blindAccuracy, shuffledAccuracy, seconds, out} as JSON')
    .action(async (options: { out?: string; quick?: boolean; json?: boolean }) => {
      const out = options.out ?? mkdtempSync(join(tmpdir(), 'wsi-vqa-demo-'));
      const summary = await runDemo({ out, quick: options.quick });
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
