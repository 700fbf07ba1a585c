/**
 * The SlideBench CSV of SlideChat (`ID, Slide, Tumor, Broad Category, Narrow Category, Question,
 * A, B, C, D, Answer`): closed questions whose features are `<features dir>/<Tumor>/<Slide>.csv`.
 */
import { resolveFeaturePath } from '../featurePaths.js';
import { multipleChoicePrompt } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { readCsvRows } from './csvRecords.js';
import { type FormatContext, RecordError, buildSamples, optionalText, requireText } from './records.js';

/** Columns that identify a SlideBench CSV. */
export const SLIDEBENCH_COLUMNS = ['Slide', 'Tumor', 'Question', 'A', 'B', 'Answer'] as const;
const CHOICE_COLUMNS = ['A', 'B', 'C', 'D'];

/** SlideBench samples: one closed question each, answer letter, broad and narrow category. */
export function parseSlideBenchCsv(text: string, context: FormatContext): ParsedDataset {
  const { rows, problems } = readCsvRows(text, context.file);
  const parsed = buildSamples(rows, context.file, (i) => rows[i].row, ({ cells }, row) => {
    const slide = requireText(cells, 'Slide');
    const question = requireText(cells, 'Question');
    const choices = CHOICE_COLUMNS.map((column) => cells[column]?.trim() ?? '');
    const count = choices.indexOf('') < 0 ? choices.length : choices.indexOf('');
    if (count < 2) throw new RecordError('a closed question needs at least choices A and B');
    return {
      id: optionalText(cells, 'ID') ?? `${slide}:${row}`,
      slideId: slide,
      features: [{ path: resolveFeaturePath(`${requireText(cells, 'Tumor')}/${slide}.csv`, context.featuresDir) }],
      turns: [
        { role: 'user', text: multipleChoicePrompt(question, choices.slice(0, count)) },
        { role: 'assistant', text: requireText(cells, 'Answer').trim() },
      ],
      choices: choices.slice(0, count),
      answer: requireText(cells, 'Answer').trim(),
      broadCategory: optionalText(cells, 'Broad Category'),
      narrowCategory: optionalText(cells, 'Narrow Category'),
      origin: { file: context.file, row },
    };
  });
  return { samples: parsed.samples, problems: [...problems, ...parsed.problems] };
}
