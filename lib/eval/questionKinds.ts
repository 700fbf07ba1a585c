/** The two kinds of benchmark question, by what a sample carries. */
import type { Sample } from '../data/sample.js';

/** Choices and the right one: scored by accuracy (evaluateBenchmark). */
export function isMultipleChoice(sample: Sample): boolean {
  return Boolean(sample.choices && sample.choices.length > 0 && sample.answer);
}

/** No choices and a reference answer: scored by BLEU and ROUGE-L (evaluateOpen). */
export function isOpenQuestion(sample: Sample): boolean {
  return !(sample.choices && sample.choices.length > 0) && Boolean(sample.answer);
}
