/**
 * The answer letter of a generated reply to a multiple-choice question, found the way a reader
 * would: a bare letter ("B"), a labelled one ("B.", "(B)", "B)", "B: …"), a stated one ("The
 * answer is B", "Answer: B"), or the text of one choice. The article "A" inside a sentence is
 * never taken for a letter. Null when the reply names no choice, or several.
 */

const STATED = /\b(?:answer|option|choice)\s*(?:is|:|would be|should be)?\s*[:(]?\s*\(?([A-Z])\)?(?![A-Za-z])/i;

/** The letter (A, B, …) among `choices.length` options, or null. */
export function answerLetter(reply: string, choices: readonly string[]): string | null {
  const letters = choices.map((_, i) => String.fromCharCode(65 + i));
  const valid = (letter: string | undefined) => (letter !== undefined && letters.includes(letter.toUpperCase()) ? letter.toUpperCase() : null);
  const text = reply.trim();
  if (text === '') return null;

  // The whole reply is a letter, maybe labelled: "B", "B.", "(B)", "B)", "**B**".
  const bare = /^[*\s(["']*([A-Za-z])[)\].:'"*\s]*$/.exec(text);
  if (bare) return valid(bare[1]);
  // Starts with a labelled letter: "B. Lymphocytes", "(C) …", "D) …", "B: …". A bare capital followed
  // by a space ("A large …") is an article, not a label.
  const leading = /^[*\s]*\(?([A-Z])(?:\)|\.|:|\s*-\s)\s*/.exec(text);
  if (leading) return valid(leading[1]);
  // "The answer is B", "Answer: (C)", "option D".
  const stated = STATED.exec(text);
  if (stated && valid(stated[1])) return valid(stated[1]);
  // The text of exactly one choice.
  const normalize = (s: string) => s.toLowerCase().replace(/^[a-z][).:]\s*/, '').replace(/[^a-z0-9]+/g, ' ').trim();
  const said = ` ${normalize(text)} `;
  const named = choices.map((c, i) => ({ letter: letters[i], text: normalize(c) })).filter(({ text: c }) => c !== '' && said.includes(` ${c} `));
  // A choice contained in a longer named choice ("carcinoma" in "squamous cell carcinoma") does not count twice.
  const distinct = named.filter((a) => !named.some((b) => b !== a && b.text.includes(a.text)));
  return distinct.length === 1 ? distinct[0].letter : null;
}
