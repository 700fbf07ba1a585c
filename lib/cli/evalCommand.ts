/** `wsi-vqa eval`: a benchmark's multiple-choice questions with their baselines, and its open questions by BLEU and ROUGE-L. */
import type { Command } from 'commander';
import { evaluate } from '../api/evaluate.js';
import type { EvalMode, EvalVariant } from '../eval/benchmark.js';
import { type ModelFlags, modelSources, withModelOptions } from './modelOptions.js';
import { integerOption, positiveIntegerOption } from './options.js';

interface EvalFlags extends ModelFlags {
  dataPath: string;
  featuresDir?: string;
  outputDir: string;
  mode: string;
  variants: string;
  maxPatches?: number;
  seed: number;
  json?: boolean;
}

export function registerEvalCommand(program: Command): Command {
  const command = program
    .command('eval')
    .description('answer every multiple-choice question of a benchmark, with the blind and shuffled-slide baselines and the majority letter (results.json, summary.csv, accuracy.svg), and generate answers to its open questions, scored with BLEU-1..4 and ROUGE-L (open_results.json)')
    .requiredOption('--data-path <file>', 'benchmark JSON, SlideBench CSV or WSI-VQA JSON')
    .option('--features-dir <dir>', "folder the dataset's feature paths are relative to (default: the dataset's folder)")
    .requiredOption('--output-dir <dir>', 'where the result files go')
    .option('--mode <mode>', 'likelihood (score each choice letter) or generate (greedy reply, letter extracted)', 'likelihood')
    .option('--variants <list>', 'comma-separated: model, blind, shuffled', 'model,blind,shuffled')
    .option('--max-patches <n>', 'patches kept per slide, evenly spaced', positiveIntegerOption)
    .option('--seed <n>', 'pairing of shuffled slides and bootstrap', integerOption, 0)
    .option('--json', 'print the summary as JSON (with both kinds of question: {multipleChoice, open})');
  withModelOptions(command);
  return command.action(async (flags: EvalFlags) => {
    const { summary } = await evaluate({
      ...modelSources(flags),
      dataPath: flags.dataPath,
      featuresDir: flags.featuresDir,
      outputDir: flags.outputDir,
      mode: flags.mode as EvalMode,
      variants: flags.variants.split(',').map((v) => v.trim()) as EvalVariant[],
      maxPatches: flags.maxPatches,
      seed: flags.seed,
      onQuestion: (done, total, kind) => (done % 20 === 0 || done === total) && process.stderr.write(`eval ${kind === 'open' ? 'open questions' : 'multiple choice'} ${done}/${total}\n`),
    });
    process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `${summaryLines(summary).join('\n')}\n`);
  });
}

/** `key: value` lines; a mixed dataset's two parts under their headings. */
function summaryLines(summary: object, indent = ''): string[] {
  return Object.entries(summary).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null ? [`${indent}${key}:`, ...summaryLines(value, `${indent}  `)] : [`${indent}${key}: ${value}`],
  );
}
