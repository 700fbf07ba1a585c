/**
 * Evaluating a VQA model on a multiple-choice benchmark (benchmark JSON, SlideBench CSV, WSI-VQA
 * closed questions): the model, the same model without the slide (blind), and the model shown
 * another slide than the question's (shuffled), beside the majority-letter baseline — so a score
 * can be read as "uses the slide" or not. Writes `results.json` (every prediction and raw
 * output), `summary.csv` and `accuracy.svg`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '../data/sample.js';
import { type FeatureCache } from '../io/featureCache.js';
import { type SlideFeatures, readSlideFeatures } from '../io/features.js';
import { isMultipleChoice } from './questionKinds.js';
import { seededRandom, shuffleInPlace } from '../random.js';
import { barChart } from '../report/svg.js';
import type { VqaModel } from '../vqa/vqaModel.js';
import type { ProgressMode } from '../train/progress.js';
import { type Accuracy, type AccuracyBreakdown, type MajorityBreakdown, accuracyBreakdown, majorityBreakdown } from './accuracy.js';
import { questionProgress } from './progress.js';
import { answerLetter } from './answerLetter.js';

/** How an answer is read: the most likely choice letter, or the letter in a greedy generated reply. */
export type EvalMode = 'likelihood' | 'generate';

/** Who answers: the model, the model without the slide, the model shown another question's slide. */
export type EvalVariant = 'model' | 'blind' | 'shuffled';

export interface Prediction {
  id: string;
  slideId: string;
  /** The slide the model was shown (another one when shuffled; none when blind). */
  shownSlide: string | null;
  question: string;
  choices: string[];
  answer: string;
  broadCategory?: string;
  narrowCategory?: string;
  predicted: string | null;
  /** The generated reply, or the choices' log-likelihoods in likelihood mode. */
  raw: string;
  correct: boolean;
}

export interface BenchmarkResult {
  mode: EvalMode;
  predictions: Partial<Record<EvalVariant, Prediction[]>>;
  breakdown: Partial<Record<EvalVariant, AccuracyBreakdown>>;
  /** Always answering the most frequent letter: overall (`letter`, `accuracy`), and per category that category's own letter. */
  majority: { letter: string; accuracy: number } & MajorityBreakdown;
  /** The accuracy of guessing: the mean over questions of 1 / their number of choices. */
  chance: number;
}

export interface EvaluateOptions {
  mode?: EvalMode;
  variants?: readonly EvalVariant[];
  /** Pairs of the shuffled variant and the bootstrap. Default 0. */
  seed?: number;
  maxPatches?: number;
  cache?: FeatureCache;
  /** Called after each answered question. */
  onQuestion?: (done: number, total: number) => void;
  /** A progress bar (or lines) over the questions of every variant. Default: none. */
  progress?: ProgressMode;
}

/** Answers every closed question of `samples` with each variant. */
export async function evaluateBenchmark(model: VqaModel, samples: readonly Sample[], options: EvaluateOptions = {}): Promise<BenchmarkResult> {
  const closed = samples.filter(isMultipleChoice);
  if (closed.length === 0) throw new RangeError('evaluateBenchmark: no multiple-choice questions among the samples');
  const mode = options.mode ?? 'likelihood';
  const variants = options.variants ?? ['model', 'blind', 'shuffled'];
  const read = (sample: Sample): Promise<SlideFeatures> => readSlideFeatures(sample.features[0].path, { maxPatches: options.maxPatches, cache: options.cache });
  const partner = shuffledPartners(closed, options.seed ?? 0);
  const total = closed.length * variants.length;
  const progress = questionProgress(total, options.progress ?? 'none');
  let done = 0;
  const predictions: BenchmarkResult['predictions'] = {};
  for (const variant of variants) {
    const list: Prediction[] = [];
    for (const [i, sample] of closed.entries()) {
      const shown = variant === 'blind' ? null : variant === 'shuffled' ? closed[partner[i]] : sample;
      const slide = shown ? await read(shown) : { features: new Float32Array(0), patches: 0 };
      const { predicted, raw } = answerOne(model, sample, slide, mode, variant === 'blind');
      list.push({
        id: sample.id,
        slideId: sample.slideId,
        shownSlide: shown?.slideId ?? null,
        question: sample.turns.find((t) => t.role === 'user')?.text ?? '',
        choices: sample.choices!,
        answer: sample.answer!,
        broadCategory: sample.broadCategory,
        narrowCategory: sample.narrowCategory,
        predicted,
        raw,
        correct: predicted === sample.answer,
      });
      done++; // not inside the optional call below: its arguments are skipped when there is no callback
      options.onQuestion?.(done, total);
      progress.update(done, variant);
    }
    predictions[variant] = list;
  }
  progress.stop();
  const breakdown: BenchmarkResult['breakdown'] = {};
  for (const [variant, list] of Object.entries(predictions) as [EvalVariant, Prediction[]][]) breakdown[variant] = accuracyBreakdown(list, { seed: options.seed });
  const majority = majorityBreakdown(closed.map((s) => ({ answer: s.answer!, broadCategory: s.broadCategory, narrowCategory: s.narrowCategory })), { seed: options.seed });
  const chance = closed.reduce((sum, s) => sum + 1 / s.choices!.length, 0) / closed.length;
  return { mode, predictions, breakdown, majority: { letter: majority.letters.overall, accuracy: majority.breakdown.overall.accuracy, ...majority }, chance };
}

function answerOne(model: VqaModel, sample: Sample, slide: Pick<SlideFeatures, 'features' | 'patches'>, mode: EvalMode, blind: boolean): { predicted: string | null; raw: string } {
  if (mode === 'likelihood') {
    const { letter, scores } = model.chooseLetter(sample, slide, { blind });
    return { predicted: letter, raw: JSON.stringify(scores.map((s) => Number(s.toFixed(4)))) };
  }
  const reply = model.answer(sample, slide, { blind, maxNewTokens: 24 });
  return { predicted: answerLetter(reply, sample.choices!), raw: reply };
}

/** For question i, the index of a question about another slide (a seeded pairing of distinct slides). */
function shuffledPartners(samples: readonly Sample[], seed: number): number[] {
  const slides = [...new Set(samples.map((s) => s.slideId))];
  if (slides.length < 2) return samples.map((_, i) => i);
  const order = shuffleInPlace([...slides], seededRandom(seed, 7));
  const next = new Map(order.map((slide, i) => [slide, order[(i + 1) % order.length]]));
  const firstQuestion = new Map<string, number>();
  samples.forEach((s, i) => firstQuestion.has(s.slideId) || firstQuestion.set(s.slideId, i));
  return samples.map((s) => firstQuestion.get(next.get(s.slideId)!)!);
}

/** Writes `results.json`, `summary.csv` and `accuracy.svg` into `dir`. */
export async function writeBenchmarkResult(dir: string, result: BenchmarkResult): Promise<void> {
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(result, null, 1)}\n`);
  const rows: string[] = ['variant,group,name,accuracy,ci_low,ci_high,correct,questions,majority_letter'];
  const variants: [string, AccuracyBreakdown][] = [...(Object.entries(result.breakdown) as [EvalVariant, AccuracyBreakdown][]), ['majority', result.majority.breakdown]];
  for (const [variant, b] of variants) {
    const letters = result.majority.letters;
    const line = (group: 'overall' | 'broad' | 'narrow', name: string, a: Accuracy) => {
      const letter = variant !== 'majority' ? '' : group === 'overall' ? letters.overall : letters[group][name];
      rows.push([variant, group, JSON.stringify(name), a.accuracy, a.low, a.high, a.correct, a.questions, letter].join(','));
    };
    line('overall', 'all', b.overall);
    for (const [name, a] of Object.entries(b.broad)) line('broad', name, a);
    for (const [name, a] of Object.entries(b.narrow)) line('narrow', name, a);
  }
  await writeFile(join(dir, 'summary.csv'), `${rows.join('\n')}\n`);
  await writeFile(join(dir, 'accuracy.svg'), `${accuracyChart(result)}\n`);
}

/** Per narrow category and overall: each variant's accuracy with its interval, the majority baseline (each category's own letter), and chance. */
export function accuracyChart(result: BenchmarkResult): string {
  const model = result.breakdown.model ?? Object.values(result.breakdown)[0]!;
  const categories = ['overall', ...Object.keys(model.narrow)];
  const pick = (b: AccuracyBreakdown, c: string) => (c === 'overall' ? b.overall : b.narrow[c]);
  const variants: [string, AccuracyBreakdown][] = [...(Object.entries(result.breakdown) as [EvalVariant, AccuracyBreakdown][]), ['majority letter', result.majority.breakdown]];
  const series = variants.map(([name, b]) => ({
    name,
    values: categories.map((c) => pick(b, c)?.accuracy ?? NaN),
    intervals: categories.map((c): [number, number] => [pick(b, c)?.low ?? NaN, pick(b, c)?.high ?? NaN]),
  }));
  return barChart(`Accuracy on held-out questions (${result.mode}), 95 % bootstrap intervals`, categories, series, {
    axis: 'questions answered right',
    references: [{ value: result.chance, label: `chance (${(100 * result.chance).toFixed(0)} %)` }],
  });
}
