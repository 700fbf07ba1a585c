/**
 * Accuracy on a multiple-choice benchmark: overall, per broad and per narrow category, each with
 * a 95 % bootstrap interval, beside the majority-letter baseline on the same questions.
 */
import { seededRandom } from '../random.js';

/** One graded question. */
export interface GradedAnswer {
  correct: boolean;
  broadCategory?: string;
  narrowCategory?: string;
}

/** Accuracy of a group of questions with its 95 % interval. */
export interface Accuracy {
  accuracy: number;
  low: number;
  high: number;
  questions: number;
  /** Questions answered right. */
  correct: number;
}

/** The share correct and its 95 % percentile bootstrap interval (`resamples` draws, seeded). */
export function accuracyWithInterval(correct: readonly boolean[], options: { resamples?: number; seed?: number } = {}): Accuracy {
  const n = correct.length;
  if (n === 0) return { accuracy: NaN, low: NaN, high: NaN, questions: 0, correct: 0 };
  const right = correct.filter(Boolean).length;
  const resamples = options.resamples ?? 2000;
  const random = seededRandom(options.seed ?? 0, n);
  const draws = Float64Array.from({ length: resamples }, () => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (correct[Math.floor(random() * n)]) hits++;
    return hits / n;
  }).sort();
  return { accuracy: right / n, low: draws[Math.floor(0.025 * (resamples - 1))], high: draws[Math.ceil(0.975 * (resamples - 1))], questions: n, correct: right };
}

/** Accuracy overall and by category. */
export interface AccuracyBreakdown {
  overall: Accuracy;
  broad: Record<string, Accuracy>;
  narrow: Record<string, Accuracy>;
}

export function accuracyBreakdown(answers: readonly GradedAnswer[], options: { resamples?: number; seed?: number } = {}): AccuracyBreakdown {
  const score = (group: readonly GradedAnswer[]) => accuracyWithInterval(group.map((a) => a.correct), options);
  return { overall: score(answers), broad: mapGroups(answers, 'broadCategory', score), narrow: mapGroups(answers, 'narrowCategory', score) };
}

/** `f` of each group of items with the same category under `key`, by name in order. */
function mapGroups<T extends Pick<GradedAnswer, 'broadCategory' | 'narrowCategory'>, R>(items: readonly T[], key: 'broadCategory' | 'narrowCategory', f: (group: T[]) => R): Record<string, R> {
  const byName = new Map<string, T[]>();
  for (const item of items) {
    const name = item[key];
    if (name !== undefined) byName.set(name, [...(byName.get(name) ?? []), item]);
  }
  return Object.fromEntries([...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, group]) => [name, f(group)]));
}

/** The majority baseline of every group: its own most frequent answer letter, and that letter's accuracy with an interval. */
export interface MajorityBreakdown {
  letters: { overall: string; broad: Record<string, string>; narrow: Record<string, string> };
  breakdown: AccuracyBreakdown;
}

/** {@link majorityLetter} overall and per category, each scored like a model's answers. */
export function majorityBreakdown(answers: readonly (Omit<GradedAnswer, 'correct'> & { answer: string })[], options: { resamples?: number; seed?: number } = {}): MajorityBreakdown {
  const rule = (group: readonly { answer: string }[]) => {
    const { letter } = majorityLetter(group.map((a) => a.answer));
    return { letter, accuracy: accuracyWithInterval(group.map((a) => a.answer === letter), options) };
  };
  const [overall, broad, narrow] = [rule(answers), mapGroups(answers, 'broadCategory', rule), mapGroups(answers, 'narrowCategory', rule)];
  const pick = <K extends 'letter' | 'accuracy'>(groups: Record<string, ReturnType<typeof rule>>, k: K) => Object.fromEntries(Object.entries(groups).map(([name, g]) => [name, g[k]]));
  return {
    letters: { overall: overall.letter, broad: pick(broad, 'letter'), narrow: pick(narrow, 'letter') },
    breakdown: { overall: overall.accuracy, broad: pick(broad, 'accuracy'), narrow: pick(narrow, 'accuracy') },
  };
}

/** The letter that is most often correct, and the accuracy of always answering it. */
export function majorityLetter(answers: readonly string[]): { letter: string; accuracy: number } {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  const [letter, count] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? ['A', 0];
  return { letter, accuracy: answers.length ? count / answers.length : NaN };
}
