/**
 * A benchmark from a dataset file, as `wsi-vqa eval` runs it (the command calls this): every
 * multiple-choice question with the blind and shuffled-slide baselines and the majority letter,
 * and every open question (WSI-VQA's have both kinds) answered by generation and scored with
 * BLEU-1..4 and ROUGE-L.
 */
import { mkdir } from 'node:fs/promises';
import { readDataset } from '../data/dataset.js';
import { requireFeatureFiles } from '../data/featuresExist.js';
import type { Sample } from '../data/sample.js';
import { type BenchmarkResult, type EvalMode, type EvalVariant, evaluateBenchmark, writeBenchmarkResult } from '../eval/benchmark.js';
import { type OpenResult, evaluateOpen, writeOpenResult } from '../eval/open.js';
import { isMultipleChoice, isOpenQuestion } from '../eval/questionKinds.js';
import { ConfigError } from '../errors.js';
import { FeatureCache } from '../io/featureCache.js';
import { VqaModel, type VqaModelSources } from '../vqa/vqaModel.js';
import type { DataFileOptions } from './trainStage.js';

/** Options of {@link evaluate}: the model's parts, the benchmark, and where the result files go. */
export interface EvaluationOptions extends VqaModelSources, DataFileOptions {
  /** Where `results.json`, `summary.csv` and `accuracy.svg` (or `open_results.json`) go. Default: nothing is written. */
  outputDir?: string;
  /** `likelihood` (score each choice letter) or `generate` (greedy reply, letter extracted). Default `likelihood`. */
  mode?: EvalMode;
  /** Default: model, blind and shuffled. */
  variants?: readonly EvalVariant[];
  /** Called after each answered question: of the multiple-choice variants together, then of the open questions. */
  onQuestion?: (done: number, total: number, kind: 'multiple-choice' | 'open') => void;
}

/** Multiple-choice results: accuracy per variant (fractions in [0, 1]), the majority baseline, the question count. */
export interface MultipleChoiceEvaluation {
  kind: 'multiple-choice';
  result: BenchmarkResult;
  summary: Partial<Record<EvalVariant, number>> & { majorityBaseline: number; questions: number };
}

/** Open-question results: corpus BLEU-1..4 and ROUGE-L (in [0, 1]), the question count. */
export interface OpenEvaluation {
  kind: 'open';
  result: OpenResult;
  summary: { bleu1: number; bleu2: number; bleu3: number; bleu4: number; rougeL: number; questions: number };
}

/** A dataset with both kinds (WSI-VQA's): each part's results, with its own summary. */
export interface MixedEvaluation {
  kind: 'mixed';
  multipleChoice: MultipleChoiceEvaluation;
  open: OpenEvaluation;
  summary: { multipleChoice: MultipleChoiceEvaluation['summary']; open: OpenEvaluation['summary'] };
}

export type Evaluation = MultipleChoiceEvaluation | OpenEvaluation | MixedEvaluation;

const VARIANTS: readonly EvalVariant[] = ['model', 'blind', 'shuffled'];

/**
 * Loads the model, answers the dataset's questions and (with `outputDir`) writes the result
 * files. The seed (default 0) pairs the shuffled slides, draws the bootstrap and the random parts.
 */
export async function evaluate(options: EvaluationOptions): Promise<Evaluation> {
  const mode = options.mode ?? 'likelihood';
  if (mode !== 'likelihood' && mode !== 'generate') throw new ConfigError(`'mode': expected likelihood or generate, got '${mode}'`);
  const variants = options.variants ?? VARIANTS;
  const unknown = variants.filter((v) => !VARIANTS.includes(v));
  if (unknown.length > 0) throw new ConfigError(`'variants': unknown ${unknown.join(', ')} (expected ${VARIANTS.join(', ')})`);
  const samples = await readDataset(options.dataPath, { featuresDir: options.featuresDir });
  const hasChoices = samples.some(isMultipleChoice);
  const hasOpen = samples.some(isOpenQuestion);
  if (!hasChoices && !hasOpen) throw new ConfigError(`${options.dataPath}: no question to evaluate (none has choices or a reference answer)`);
  await requireFeatureFiles(samples, options.dataPath, options);
  const model = await VqaModel.load(options);
  try {
    if (options.outputDir) await mkdir(options.outputDir, { recursive: true });
    const cache = new FeatureCache();
    const multipleChoice = hasChoices ? await evaluateMultipleChoice(model, samples, { ...options, mode, variants, cache }) : undefined;
    const open = hasOpen ? await evaluateOpenQuestions(model, samples, { ...options, cache }) : undefined;
    if (multipleChoice && open) return { kind: 'mixed', multipleChoice, open, summary: { multipleChoice: multipleChoice.summary, open: open.summary } };
    return (multipleChoice ?? open)!;
  } finally {
    model.dispose();
  }
}

type PartOptions = EvaluationOptions & { cache: FeatureCache };

async function evaluateMultipleChoice(model: VqaModel, samples: readonly Sample[], options: PartOptions & { mode: EvalMode; variants: readonly EvalVariant[] }): Promise<MultipleChoiceEvaluation> {
  const { mode, variants } = options;
  const onQuestion = options.onQuestion && ((done: number, total: number) => options.onQuestion!(done, total, 'multiple-choice'));
  const result = await evaluateBenchmark(model, samples, { mode, variants, seed: options.seed, maxPatches: options.maxPatches, cache: options.cache, onQuestion });
  if (options.outputDir) await writeBenchmarkResult(options.outputDir, result);
  const overall = Object.fromEntries(Object.entries(result.breakdown).map(([v, b]) => [v, b.overall.accuracy]));
  return { kind: 'multiple-choice', result, summary: { ...overall, majorityBaseline: result.majority.accuracy, questions: result.predictions[variants[0]]!.length } };
}

async function evaluateOpenQuestions(model: VqaModel, samples: readonly Sample[], options: PartOptions): Promise<OpenEvaluation> {
  const onQuestion = options.onQuestion && ((done: number, total: number) => options.onQuestion!(done, total, 'open'));
  const open = await evaluateOpen(model, samples, { maxPatches: options.maxPatches, cache: options.cache, onQuestion });
  if (options.outputDir) await writeOpenResult(options.outputDir, open);
  const [bleu1, bleu2, bleu3, bleu4] = open.bleu;
  return { kind: 'open', result: open, summary: { bleu1, bleu2, bleu3, bleu4, rougeL: open.rougeL, questions: open.answers.length } };
}
