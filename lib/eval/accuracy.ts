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
}

/** The share correct and its 95 % percentile bootstrap interval (`resamples` draws, seeded). */
export function accuracyWithInterval(correct: readonly boolean[], options: { resamples?: number; seed?: number } = {}): Accuracy {
  const n = correct.length;
  if (n === 0) return { accuracy: NaN, low: NaN, high: NaN, questions: 0 };
  const right = correct.filter(Boolean).length;
  const resamples = options.resamples ?? 2000;
  const random = seededRandom(options.seed ?? 0, n);
  const draws = Float64Array.from({ length: resamples }, () => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (correct[Math.floor(random() * n)]) hits++;
    return hits / n;
  }).sort();
  return { accuracy: right / n, low: draws[Math.floor(0.025 * (resamples - 1))], high: draws[Math.ceil(0.975 * (resamples - 1))], questions: n };
}

/** Accuracy overall and by category. */
export interface AccuracyBreakdown {
  overall: Accuracy;
  broad: Record<string, Accuracy>;
  narrow: Record<string, Accuracy>;
}

export function accuracyBreakdown(answers: readonly GradedAnswer[], options: { resamples?: number; seed?: number } = {}): AccuracyBreakdown {
  const groups = (key: 'broadCategory' | 'narrowCategory') => {
    const byName = new Map<string, boolean[]>();
    for (const a of answers) {
      const name = a[key];
      if (name === undefined) continue;
      byName.set(name, [...(byName.get(name) ?? []), a.correct]);
    }
    return Object.fromEntries([...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) => [name, accuracyWithInterval(c, options)]));
  };
  return { overall: accuracyWithInterval(answers.map((a) => a.correct), options), broad: groups('broadCategory'), narrow: groups('narrowCategory') };
}

/** The letter that is most often correct, and the accuracy of always answering it. */
export function majorityLetter(answers: readonly string[]): { letter: string; accuracy: number } {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  const [letter, count] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? ['A', 0];
  return { letter, accuracy: answers.length ? count / answers.length : NaN };
}
