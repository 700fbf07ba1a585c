/** Checks of one sample that need no files: the image placeholder and the answer letter. */
import { IMAGE_PLACEHOLDER, choiceLetter } from './prompt.js';
import type { Sample } from './sample.js';

/** What is wrong with a sample on its face, one message per problem (empty when nothing is). */
export function sampleProblems(sample: Sample): string[] {
  const problems: string[] = [];
  const placeholders = sample.turns.filter((t) => t.role === 'user').reduce((n, t) => n + t.text.split(IMAGE_PLACEHOLDER).length - 1, 0);
  if (placeholders === 0) problems.push(`no ${IMAGE_PLACEHOLDER} placeholder in any user turn (the slide would not be shown)`);
  if (placeholders > 1) problems.push(`${placeholders} ${IMAGE_PLACEHOLDER} placeholders; a sample shows its slide once`);
  if (sample.turns.some((t) => t.role === 'assistant' && t.text.includes(IMAGE_PLACEHOLDER))) {
    problems.push(`an assistant turn contains ${IMAGE_PLACEHOLDER}`);
  }
  if (sample.choices) {
    const letters = sample.choices.map((_, i) => choiceLetter(i));
    if (sample.answer === undefined || !letters.includes(sample.answer)) {
      problems.push(`answer ${JSON.stringify(sample.answer)} is not among the choices (${letters.join(', ')})`);
    }
  }
  return problems;
}
