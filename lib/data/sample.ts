/**
 * The typed samples every dataset format becomes: one question (or conversation) about one
 * slide, ready for a collator to turn into Qwen3 chat tokens.
 */

/** One message of a conversation. */
export interface Turn {
  role: 'user' | 'assistant';
  /** The message text; user turns carry the image placeholder `<image>` where the slide goes. */
  text: string;
}

/** Where a slide's patch features are read from. */
export interface FeatureSource {
  /** A feature file (`.pt`, `.pth`, `.npy`, `.safetensors`, `.h5`, `.csv`), already resolved against the features directory. */
  path: string;
}

/** Where a sample came from in its dataset file, for error messages. */
export interface SampleOrigin {
  file: string;
  /** 1-based: the line of a CSV or JSONL file (a CSV header is line 1), the position of a record in a JSON array. */
  row: number;
}

/** One training or evaluation sample. */
export interface Sample {
  /** Identifier, unique within the dataset (the file's own id when it has one). */
  id: string;
  /** The slide (or, for WSI-VQA, the case) the question is about. */
  slideId: string;
  /**
   * The slide's feature files; usually one. Their patches together form the slide that
   * replaces the single `<image>` placeholder.
   */
  features: FeatureSource[];
  /**
   * The conversation: user and assistant turns alternating, starting with the user. Every
   * assistant turn is a training target. For evaluation, the last assistant turn is the reference.
   */
  turns: Turn[];
  /** Closed questions: the option texts, lettered A, B, C, … in this order (no letter prefix). */
  choices?: string[];
  /** Closed questions: the correct letter. Open questions: the reference answer text. */
  answer?: string;
  /** SlideBench broad category (e.g. `Microscopy`), when the dataset has one. */
  broadCategory?: string;
  /** SlideBench narrow category (e.g. `Tissue Architecture`), when the dataset has one. */
  narrowCategory?: string;
  /** Slide labels CSV: the slide's class, for stage-0 compressor pretraining. */
  label?: string;
  /** WSI-Bench task (e.g. `Morphology`, `Report`), when the dataset has one. */
  task?: string;
  origin: SampleOrigin;
}

/** Something wrong in a dataset, located by file and row. */
export interface DatasetProblem {
  file: string;
  /** 1-based row as in {@link SampleOrigin}; 0 for a problem with the whole file. */
  row: number;
  message: string;
}

/** A parsed dataset: the samples that could be built and the records that could not. */
export interface ParsedDataset {
  samples: Sample[];
  problems: DatasetProblem[];
}
