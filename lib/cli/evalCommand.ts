/** `wsi-vqa eval`: a benchmark (benchmark JSON, SlideBench CSV, WSI-VQA closed questions) with its baselines. */
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { readDataset } from '../data/dataset.js';
import { type EvalMode, type EvalVariant, evaluateBenchmark, writeBenchmarkResult } from '../eval/benchmark.js';
import { evaluateOpen, writeOpenResult } from '../eval/open.js';
import { ConfigError } from '../errors.js';
import { FeatureCache } from '../io/featureCache.js';
import { type ModelFlags, loadModel, withModelOptions } from './modelOptions.js';
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

const VARIANTS: readonly EvalVariant[] = ['model', 'blind', 'shuffled'];

export function registerEvalCommand(program: Command): Command {
  const command = program
    .command('eval')
    .description('answer every multiple-choice question of a benchmark, with the blind and shuffled-slide baselines and the majority letter (results.json, summary.csv, accuracy.svg); or, for open questions, generate answers and score BLEU-1..4 and ROUGE-L (open_results.json)')
    .requiredOption('--data-path <file>', 'benchmark JSON, SlideBench CSV or WSI-VQA JSON')
    .option('--features-dir <dir>', "folder the dataset's feature paths are relative to (default: the dataset's folder)")
    .requiredOption('--output-dir <dir>', 'where the result files go')
    .option('--mode <mode>', 'likelihood (score each choice letter) or generate (greedy reply, letter extracted)', 'likelihood')
    .option('--variants <list>', 'comma-separated: model, blind, shuffled', VARIANTS.join(','))
    .option('--max-patches <n>', 'patches kept per slide, evenly spaced', positiveIntegerOption)
    .option('--seed <n>', 'pairing of shuffled slides and bootstrap', integerOption, 0)
    .option('--json', 'print the overall accuracies as JSON');
  withModelOptions(command);
  return command.action(async (flags: EvalFlags) => {
    if (flags.mode !== 'likelihood' && flags.mode !== 'generate') throw new ConfigError(`'--mode': expected likelihood or generate, got '${flags.mode}'`);
    const variants = flags.variants.split(',').map((v) => v.trim());
    const unknown = variants.filter((v) => !VARIANTS.includes(v as EvalVariant));
    if (unknown.length > 0) throw new ConfigError(`'--variants': unknown ${unknown.join(', ')} (expected ${VARIANTS.join(', ')})`);
    const samples = await readDataset(flags.dataPath, { featuresDir: flags.featuresDir });
    const model = await loadModel(flags, flags.seed);
    await mkdir(flags.outputDir, { recursive: true });
    const cache = new FeatureCache();
    if (!samples.some((s) => s.choices && s.choices.length > 0)) {
      // Open questions only (WSI-VQA open, WSI-Bench): generated answers, BLEU and ROUGE-L.
      const open = await evaluateOpen(model, samples, { maxPatches: flags.maxPatches, cache });
      await writeOpenResult(flags.outputDir, open);
      const summary = { bleu1: open.bleu[0], bleu2: open.bleu[1], bleu3: open.bleu[2], bleu4: open.bleu[3], rougeL: open.rougeL, questions: open.answers.length };
      process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `${Object.entries(summary).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
      model.dispose();
      return;
    }
    const result = await evaluateBenchmark(model, samples, {
      mode: flags.mode as EvalMode,
      variants: variants as EvalVariant[],
      seed: flags.seed,
      maxPatches: flags.maxPatches,
      cache,
      onQuestion: (done, total) => done % 20 === 0 && process.stderr.write(`eval ${done}/${total}\n`),
    });
    await writeBenchmarkResult(flags.outputDir, result);
    const overall = Object.fromEntries(Object.entries(result.breakdown).map(([v, b]) => [v, b.overall.accuracy]));
    const summary = { ...overall, majorityBaseline: result.majority.accuracy, questions: result.predictions[variants[0] as EvalVariant]!.length };
    process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `${Object.entries(summary).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
    model.dispose();
  });
}
