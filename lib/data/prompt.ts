/** How questions become user-turn text: the image placeholder and the multiple-choice layout. */

/** The placeholder in a user turn where the slide's tokens are spliced in. */
export const IMAGE_PLACEHOLDER = '<image>';

/** The instruction closing a multiple-choice prompt (TC-SSA's SlideBench and WSI-VQA evaluation wording). */
export const ANSWER_WITH_LETTER = 'Answer with only the letter';

/** The instruction of a caption sample, whose dataset gives only the caption. */
export const CAPTION_INSTRUCTION = 'Describe this whole slide image.';

/** The letter of choice `index`: 0 → `A`, 1 → `B`, … */
export function choiceLetter(index: number): string {
  return String.fromCharCode(65 + index);
}

/** `text` with the image placeholder on a line of its own in front, unless it already has one. */
export function withImagePlaceholder(text: string): string {
  return text.includes(IMAGE_PLACEHOLDER) ? text : `${IMAGE_PLACEHOLDER}\n${text}`;
}

/**
 * The user turn of a closed question:
 * `<image>\n{question}\nA) …\nB) …\nAnswer with only the letter (A/B/C/D):`.
 */
export function multipleChoicePrompt(question: string, choices: readonly string[]): string {
  const letters = choices.map((_, i) => choiceLetter(i));
  const options = choices.map((choice, i) => `${letters[i]}) ${choice}`);
  return withImagePlaceholder([question.trim(), ...options, `${ANSWER_WITH_LETTER} (${letters.join('/')}):`].join('\n'));
}

/** A choice text without a leading letter label: `"A) Squamous cell carcinoma"` → `"Squamous cell carcinoma"`. */
export function stripChoiceLabel(choice: string, index: number): string {
  const label = new RegExp(`^\\s*\\(?${choiceLetter(index)}\\s*[).:]\\s*`);
  return choice.replace(label, '');
}
