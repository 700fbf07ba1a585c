import { describe, expect, it } from 'vitest';
import { corpusBleu, corpusRougeL, rougeL, tokenizeForMetrics } from '../../lib/eval/openMetrics.js';

// Hand computation for "the cat sat on the mat" against "the cat is on the mat":
// matches/candidates per order: 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3; c = r = 6, BP = 1.
const HYP = 'The cat sat on the mat.';
const REF = 'the cat is on the mat';

describe('corpusBleu', () => {
  it('without smoothing matches the hand-computed precisions', () => {
    const [b1, b2, b3, b4] = corpusBleu([HYP], [REF], { smoothing: 'none' });
    expect(b1).toBeCloseTo(5 / 6, 12);
    expect(b2).toBeCloseTo(Math.sqrt((5 / 6) * (3 / 5)), 12);
    expect(b3).toBeCloseTo(Math.cbrt((5 / 6) * (3 / 5) * (1 / 4)), 12);
    expect(b4).toBe(0);
  });

  it('add-one smoothing adds 1 to matches and candidates for n >= 2', () => {
    const [b1, b2, b3, b4] = corpusBleu([HYP], [REF]);
    expect(b1).toBeCloseTo(5 / 6, 12);
    expect(b2).toBeCloseTo(Math.sqrt((5 / 6) * (4 / 6)), 12);
    expect(b3).toBeCloseTo(Math.cbrt((5 / 6) * (4 / 6) * (2 / 5)), 12);
    expect(b4).toBeCloseTo(((5 / 6) * (4 / 6) * (2 / 5) * (1 / 4)) ** 0.25, 12);
  });

  it('applies the brevity penalty exp(1 - r/c) to short hypotheses', () => {
    expect(corpusBleu(['the cat'], [REF])[0]).toBeCloseTo(Math.exp(1 - 6 / 2), 12);
  });

  it('sums counts over the corpus, clips by the best reference, picks the closest reference length', () => {
    // Sentence 1: "the the the" vs refs ("the cat", "the the cat sat"): clip 2 of 3; closest length 4 (|3-2| = |3-4|: tie to the shorter, 2).
    // Sentence 2: "a dog" vs "a dog": 2 of 2, r = 2. Totals: 4/5, c = 5, r = 4 -> BP = 1.
    const [b1] = corpusBleu(['the the the', 'a dog'], [['the cat', 'the the cat sat'], 'a dog'], { smoothing: 'none' });
    expect(b1).toBeCloseTo(4 / 5, 12);
  });

  it('rejects mismatched lengths', () => {
    expect(() => corpusBleu(['a'], [])).toThrow(RangeError);
  });
});

describe('rougeL', () => {
  it('uses the longest common subsequence', () => {
    expect(rougeL(HYP, REF)).toBeCloseTo(5 / 6, 12); // LCS "the cat on the mat"
    expect(rougeL('police killed the gunman', 'police kill the gunman')).toBeCloseTo(0.75, 12);
    // P = 2/4, R = 2/2: F1 = 2PR/(P+R) = 2/3; with beta 1.2: (1+1.44)PR/(R+1.44P).
    expect(rougeL('a b c d', 'a c')).toBeCloseTo(2 / 3, 12);
    expect(rougeL('a b c d', 'a c', 1.2)).toBeCloseTo((2.44 * 0.5) / (1 + 1.44 * 0.5), 12);
    expect(rougeL('x y', 'a b')).toBe(0);
  });

  it('takes the best reference and averages over the corpus', () => {
    expect(corpusRougeL(['a b c d', 'x'], [['zzz', 'a c'], 'x'])).toBeCloseTo((2 / 3 + 1) / 2, 12);
  });

  it('tokenizes to lowercase words', () => {
    expect(tokenizeForMetrics('Tumor, (grade-2)!')).toEqual(['tumor', 'grade', '2']);
  });
});
