/**
 * Open questions (WSI-VQA open, WSI-Bench): the model's greedy answers saved beside the
 * references, scored with corpus BLEU-1..4 and ROUGE-L.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '../data/sample.js';
import type { FeatureCache } from '../io/featureCache.js';
import { readSlideFeatures } from '../io/features.js';
import type { VqaModel } from '../vqa/vqaModel.js';
import { isOpenQuestion } from './questionKinds.js';
import { corpusBleu, corpusRougeL } from './openMetrics.js';

export interface OpenAnswer {
  id: string;
  slideId: string;
  question: string;
  reference: string;
  answer: string;
}

export interface OpenResult {
  answers: OpenAnswer[];
  bleu: number[];
  rougeL: number;
}

/** Answers every open question (a reference answer, no choices) of `samples`. */
export async function evaluateOpen(
  model: VqaModel,
  samples: readonly Sample[],
  options: { maxNewTokens?: number; maxPatches?: number; cache?: FeatureCache; onQuestion?: (done: number, total: number) => void } = {},
): Promise<OpenResult> {
  const open = samples.filter(isOpenQuestion);
  const answers: OpenAnswer[] = [];
  for (const sample of open) {
    const slide = await readSlideFeatures(sample.features[0].path, { maxPatches: options.maxPatches, cache: options.cache });
    answers.push({
      id: sample.id,
      slideId: sample.slideId,
      question: sample.turns.find((t) => t.role === 'user')?.text ?? '',
      reference: sample.answer!,
      answer: model.answer(sample, slide, { maxNewTokens: options.maxNewTokens ?? 64 }),
    });
    options.onQuestion?.(answers.length, open.length);
  }
  const hypotheses = answers.map((a) => a.answer);
  const references = answers.map((a) => a.reference);
  return { answers, bleu: corpusBleu(hypotheses, references), rougeL: corpusRougeL(hypotheses, references) };
}

/** Writes `open_results.json` (every answer and the scores) into `dir`. */
export async function writeOpenResult(dir: string, result: OpenResult): Promise<void> {
  await writeFile(join(dir, 'open_results.json'), `${JSON.stringify(result, null, 1)}\n`);
}
