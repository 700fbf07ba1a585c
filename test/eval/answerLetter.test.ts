import { describe, expect, it } from 'vitest';
import { accuracyWithInterval, majorityBreakdown, majorityLetter } from '../../lib/eval/accuracy.js';
import { answerLetter } from '../../lib/eval/answerLetter.js';

const CHOICES = ['Squamous cell carcinoma', 'Adenocarcinoma', 'Carcinoma', 'Normal tissue'];

describe('answerLetter', () => {
  it.each([
    ['B', 'B'],
    ['b', 'B'],
    [' C. ', 'C'],
    ['(D)', 'D'],
    ['A)', 'A'],
    ['**B**', 'B'],
    ['B. Adenocarcinoma', 'B'],
    ['(C) Carcinoma, probably', 'C'],
    ['D: normal tissue', 'D'],
    ['The answer is C.', 'C'],
    ['Answer: (B)', 'B'],
    ['I think the correct option is D', 'D'],
    ['Adenocarcinoma.', 'B'],
    ['It shows normal tissue without atypia.', 'D'],
    ['Squamous cell carcinoma', 'A'],
    ['A large tumour is seen in the slide.', null],
    ['A well-differentiated lesion', null],
    ['E', null],
    ['', null],
    ['Either adenocarcinoma or normal tissue.', null],
    ['The answer is E', null],
  ])('%j → %s', (reply, letter) => {
    expect(answerLetter(reply, CHOICES)).toBe(letter);
  });
});

describe('accuracy', () => {
  it('brackets the accuracy with a bootstrap interval that narrows with more questions', () => {
    const few = accuracyWithInterval([true, false, true, true], { seed: 1 });
    const many = accuracyWithInterval(Array.from({ length: 400 }, (_, i) => i % 4 !== 0), { seed: 1 });
    expect(few.accuracy).toBe(0.75);
    expect(many.accuracy).toBe(0.75);
    expect(many.low).toBeLessThanOrEqual(0.75);
    expect(many.high).toBeGreaterThanOrEqual(0.75);
    expect(many.high - many.low).toBeLessThan(few.high - few.low);
    expect(many.high - many.low).toBeGreaterThan(0.05);
  });

  it('scores each category against its own majority letter, with counts', () => {
    const answers = [...'AAAB'].map((answer) => ({ answer, narrowCategory: 'Tissue' })).concat([...'CCD'].map((answer) => ({ answer, narrowCategory: 'Finding' })));
    const { letters, breakdown } = majorityBreakdown(answers, { seed: 1 });
    expect(letters).toEqual({ overall: 'A', broad: {}, narrow: { Finding: 'C', Tissue: 'A' } });
    expect(breakdown.overall).toMatchObject({ accuracy: 3 / 7, correct: 3, questions: 7 });
    expect(breakdown.narrow.Tissue).toMatchObject({ accuracy: 0.75, correct: 3, questions: 4 });
    expect(breakdown.narrow.Finding).toMatchObject({ accuracy: 2 / 3, correct: 2, questions: 3 });
    expect(breakdown.narrow.Finding.low).toBeLessThanOrEqual(2 / 3);
  });

  it('finds the majority letter', () => {
    expect(majorityLetter(['A', 'B', 'B', 'C'])).toEqual({ letter: 'B', accuracy: 0.5 });
  });
});
