/** Reading a dataset file of any supported format into typed samples. */
import { dirname, extname } from 'node:path';
import { FormatError } from '../errors.js';
import { readTextFile } from '../io/fileBytes.js';
import { parseJson } from '../io/jsonText.js';
import { listFeatureFiles } from './featurePaths.js';
import { parseBenchmarkJson } from './formats/benchmarkJson.js';
import { CAPTIONS_COLUMNS, parseCaptionsCsv } from './formats/captionsCsv.js';
import { hasColumns } from './formats/csvRecords.js';
import type { FormatContext } from './formats/records.js';
import { SLIDEBENCH_COLUMNS, parseSlideBenchCsv } from './formats/slideBenchCsv.js';
import { SLIDE_LABELS_COLUMNS, parseSlideLabelsCsv } from './formats/slideLabelsCsv.js';
import { parseSlideChatJson } from './formats/slideChatJson.js';
import { parseVqaJson } from './formats/vqaJson.js';
import { parseWsiBenchJsonl } from './formats/wsiBenchJsonl.js';
import { parseWsiVqaJson } from './formats/wsiVqaJson.js';
import type { ParsedDataset, Sample } from './sample.js';

/** Largest dataset file read (512 MiB: about the longest string V8 makes, 2^29 characters). */
const MAX_DATASET_BYTES = 2 ** 29 - 24;

/** The dataset formats (docs/ARCHITECTURE.md, "Slide features and datasets"). */
export type DatasetFormat = 'captions-csv' | 'slide-labels-csv' | 'slidebench-csv' | 'vqa-json' | 'slidechat-json' | 'benchmark-json' | 'wsi-vqa-json' | 'wsi-bench-jsonl';

/** Options of {@link parseDataset} and {@link readDataset}. */
export interface DatasetOptions {
  /** Folder that relative feature paths (and WSI-VQA case ids) are looked up in. Default: the dataset file's folder. */
  featuresDir?: string;
  /** The file's format. Default: detected from the extension and content. */
  format?: DatasetFormat;
}

/** The folder that `file`'s relative feature paths are resolved in: `featuresDir`, else the file's own folder. */
export function featuresFolder(file: string, options: DatasetOptions = {}): string {
  return options.featuresDir ?? dirname(file);
}

/**
 * Reads a dataset file leniently: every record that can become a sample does, every one that
 * cannot is a problem with its row. Throws only when the file cannot be read ({@link IoError})
 * or its format cannot be told ({@link FormatError}).
 */
export async function parseDataset(file: string, options: DatasetOptions = {}): Promise<ParsedDataset & { format: DatasetFormat }> {
  const text = await readTextFile(file, MAX_DATASET_BYTES);
  const context: FormatContext = { file, featuresDir: featuresFolder(file, options) };
  const extension = extname(file).toLowerCase();
  if (extension === '.csv' || extension === '.jsonl' || options.format === 'wsi-bench-jsonl') {
    const format = options.format ?? detectTextFormat(file, extension, text);
    if (format === 'wsi-bench-jsonl') return { format, ...parseWsiBenchJsonl(text, context) };
    if (format === 'captions-csv') return { format, ...parseCaptionsCsv(text, context) };
    if (format === 'slide-labels-csv') return { format, ...parseSlideLabelsCsv(text, context) };
    if (format === 'slidebench-csv') return { format, ...parseSlideBenchCsv(text, context) };
  }
  const data = parseJson(text, file);
  const format = options.format ?? detectJsonFormat(file, data);
  const records = format === 'benchmark-json' ? (data as { samples?: unknown }).samples : data;
  if (!Array.isArray(records)) {
    throw new FormatError(`${file}: expected ${format === 'benchmark-json' ? 'an object with a "samples" list' : 'a JSON list of records'}`);
  }
  switch (format) {
    case 'vqa-json':
      return { format, ...parseVqaJson(records, context) };
    case 'slidechat-json':
      return { format, ...parseSlideChatJson(records, context) };
    case 'benchmark-json':
      return { format, ...parseBenchmarkJson(records, context) };
    case 'wsi-vqa-json':
      return { format, ...parseWsiVqaJson(records, { ...context, featureFiles: await listFeatureFiles(context.featuresDir) }) };
    default:
      throw new FormatError(`${file}: format ${format} is not a JSON format`);
  }
}

/**
 * Reads a dataset file strictly: its samples, or a {@link FormatError} listing the records that
 * cannot become samples (file and row of each). See {@link parseDataset} for the options.
 */
export async function readDataset(file: string, options: DatasetOptions = {}): Promise<Sample[]> {
  const { samples, problems } = await parseDataset(file, options);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).map((p) => `  row ${p.row}: ${p.message}`);
    const more = problems.length > shown.length ? [`  … and ${problems.length - shown.length} more (run \`wsi-vqa data check ${file}\`)`] : [];
    throw new FormatError([`${file}: ${problems.length} record(s) cannot be read:`, ...shown, ...more].join('\n'));
  }
  return samples;
}

function detectTextFormat(file: string, extension: string, text: string): DatasetFormat {
  if (extension === '.jsonl') return 'wsi-bench-jsonl';
  if (hasColumns(text, SLIDEBENCH_COLUMNS)) return 'slidebench-csv';
  if (hasColumns(text, CAPTIONS_COLUMNS)) return 'captions-csv';
  if (hasColumns(text, SLIDE_LABELS_COLUMNS)) return 'slide-labels-csv';
  throw new FormatError(
    `${file}: unknown CSV dataset: expected the columns ${CAPTIONS_COLUMNS.join(', ')} (captions), ${SLIDE_LABELS_COLUMNS.join(', ')} (slide labels) or ${SLIDEBENCH_COLUMNS.join(', ')} … (SlideBench)`,
  );
}

function detectJsonFormat(file: string, data: unknown): DatasetFormat {
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && Array.isArray((data as { samples?: unknown }).samples)) return 'benchmark-json';
  const first = Array.isArray(data) ? data.find((r) => typeof r === 'object' && r !== null) : undefined;
  if (first) {
    const has = (key: string) => Object.hasOwn(first, key);
    if (has('conversations') || (has('image') && has('id'))) return 'slidechat-json';
    if (has('Id') && has('Question')) return 'wsi-vqa-json';
    if (has('slide_id') && has('question')) return 'vqa-json';
  }
  throw new FormatError(
    `${file}: unknown JSON dataset: expected SlideChat ({id, image, conversations}), VQA ({slide_id, question, answer, features_path}), WSI-VQA ({Id, Question, Answer}) records, or a benchmark {samples: […]}`,
  );
}
