/**
 * Metrics for open-ended answers: corpus BLEU-1..4 (Papineni et al. 2002) and ROUGE-L F (Lin 2004).
 *
 * Tokens: lowercase runs of letters and digits (punctuation dropped), the same for hypotheses
 * and references. Several references per hypothesis are allowed.
 */

/** Lowercase alphanumeric tokens. */
export function tokenizeForMetrics(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Options for {@link corpusBleu}. */
export interface BleuOptions {
  /**
   * `add-one` (default): for n ≥ 2, precision (matches + 1) / (candidates + 1) (Lin & Och 2004,
   * "smoothing 2" in Chen & Cherry 2014), so short answers do not score 0 at BLEU-4.
   * `none`: the original definition; a zero precision makes the score 0.
   */
  smoothing?: 'add-one' | 'none';
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Corpus BLEU-1..4: clipped n-gram matches and candidate n-grams summed over the corpus, the
 * geometric mean of precisions 1..N with uniform weights, times the brevity penalty
 * exp(1 − r/c) when c ≤ r (r: sum of the reference lengths closest to each hypothesis, ties to
 * the shorter). Returns `[BLEU-1, BLEU-2, BLEU-3, BLEU-4]` in [0, 1].
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (string | readonly string[])[], options: BleuOptions = {}): number[] {
  if (hypotheses.length !== references.length) {
    throw new RangeError(`corpusBleu: ${hypotheses.length} hypotheses but ${references.length} references`);
  }
  const smoothing = options.smoothing ?? 'add-one';
  const matches = [0, 0, 0, 0];
  const totals = [0, 0, 0, 0];
  let c = 0;
  let r = 0;
  hypotheses.forEach((hyp, i) => {
    const h = tokenizeForMetrics(hyp);
    const refs = (typeof references[i] === 'string' ? [references[i] as string] : (references[i] as readonly string[])).map(tokenizeForMetrics);
    c += h.length;
    r += refs.map((t) => t.length).reduce((best, len) => {
      const d = Math.abs(len - h.length) - Math.abs(best - h.length);
      return d < 0 || (d === 0 && len < best) ? len : best;
    }, refs[0]?.length ?? 0);
    for (let n = 1; n <= 4; n++) {
      const maxRef = new Map<string, number>();
      for (const ref of refs) for (const [g, k] of ngramCounts(ref, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, k));
      for (const [g, k] of ngramCounts(h, n)) {
        matches[n - 1]! += Math.min(k, maxRef.get(g) ?? 0);
        totals[n - 1]! += k;
      }
    }
  });
  if (c === 0) return [0, 0, 0, 0];
  const brevity = c > r ? 1 : Math.exp(1 - r / c);
  const logPrecisions = matches.map((m, k) => {
    const smooth = smoothing === 'add-one' && k > 0 ? 1 : 0;
    const p = (m + smooth) / (totals[k]! + smooth);
    return p > 0 ? Math.log(p) : -Infinity;
  });
  return [1, 2, 3, 4].map((n) => {
    const mean = logPrecisions.slice(0, n).reduce((s, l) => s + l, 0) / n;
    return brevity * Math.exp(mean);
  });
}

function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const cur = [0];
    for (let j = 1; j <= b.length; j++) cur[j] = x === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * ROUGE-L F of one hypothesis against one reference: P = LCS/|hyp|, R = LCS/|ref|,
 * F = (1+β²)PR / (R + β²P). β = 1 by default (the F1 of Google's rouge-score); COCO uses 1.2.
 */
export function rougeL(hypothesis: string, reference: string, beta = 1): number {
  const h = tokenizeForMetrics(hypothesis);
  const r = tokenizeForMetrics(reference);
  const lcs = lcsLength(h, r);
  if (lcs === 0) return 0;
  const p = lcs / h.length;
  const rec = lcs / r.length;
  return ((1 + beta * beta) * p * rec) / (rec + beta * beta * p);
}

/** Mean over the corpus of each hypothesis's best ROUGE-L F against its references. */
export function corpusRougeL(hypotheses: readonly string[], references: readonly (string | readonly string[])[], beta = 1): number {
  if (hypotheses.length !== references.length) {
    throw new RangeError(`corpusRougeL: ${hypotheses.length} hypotheses but ${references.length} references`);
  }
  if (hypotheses.length === 0) return NaN;
  const total = hypotheses.reduce((s, hyp, i) => {
    const refs = typeof references[i] === 'string' ? [references[i] as string] : (references[i] as readonly string[]);
    return s + Math.max(0, ...refs.map((ref) => rougeL(hyp, ref, beta)));
  }, 0);
  return total / hypotheses.length;
}
