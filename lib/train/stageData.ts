/**
 * Whether a dataset fits a training stage. Stage 0 learns slide labels, so it needs a slide
 * labels CSV (the only format whose samples carry a `label`); stages 1 and 2 learn to answer, so
 * they take any conversation format (captions CSV, SlideChat / VQA JSON, and the benchmark
 * formats, whose samples all end in an answer) — but not a slide labels CSV, whose one question
 * ("What is the label of this slide?") would train the LLM to name classes.
 */
import { SLIDE_LABELS_COLUMNS } from '../data/formats/slideLabelsCsv.js';
import type { Sample } from '../data/sample.js';
import { ConfigError } from '../errors.js';
import type { Stage } from './config.js';

/** The classes of a stage-0 dataset, sorted (its samples' labels). */
export function slideClasses(samples: readonly Pick<Sample, 'label'>[]): string[] {
  return [...new Set(samples.map((s) => s.label ?? ''))].sort();
}

/**
 * Throws {@link ConfigError} naming `file` and the format `stage` expects when `samples` (read
 * from `file`) cannot train it: no samples, stage 0 on samples without labels or with fewer than
 * two classes, stages 1 and 2 on slide labels.
 */
export function checkStageData(stage: Stage, samples: readonly Sample[], file: string): void {
  const labels = `a slide labels CSV (columns ${SLIDE_LABELS_COLUMNS.join(', ')})`;
  const conversations = 'captions (CSV: slide_id, caption, features_path) or conversations (SlideChat or VQA JSON)';
  if (samples.length === 0) throw new ConfigError(`${file}: no samples to train stage ${stage} on`);
  if (stage === 0) {
    const unlabelled = samples.find((s) => s.label === undefined);
    if (unlabelled) throw new ConfigError(`${file}: stage 0 trains the compressor on slide labels and expects ${labels}; this dataset holds questions and answers, not labels (row ${unlabelled.origin.row} has none), for stages 1 and 2`);
    const classes = slideClasses(samples);
    if (classes.length < 2) throw new ConfigError(`${file}: stage 0 needs at least 2 classes to learn, the labels are all ${JSON.stringify(classes[0])}`);
  } else if (samples.some((s) => s.label !== undefined)) {
    throw new ConfigError(`${file}: stage ${stage} trains on ${conversations}; this is ${labels}, for stage 0`);
  }
}
