/**
 * Slide labels CSV (`slide_id,label,features_path`): stage-0 compressor pretraining samples, one
 * slide-level class label per row (a diagnosis, a subtype), as TC-SSA trains its compressor.
 */
import { resolveFeaturePath } from '../featurePaths.js';
import { withImagePlaceholder } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { readCsvRows } from './csvRecords.js';
import { type FormatContext, buildSamples, requireText, rowId } from './records.js';

/** Columns that identify a slide labels CSV. */
export const SLIDE_LABELS_COLUMNS = ['slide_id', 'label', 'features_path'] as const;

/** The question a label sample asks when it is read as a conversation. */
export const SLIDE_LABEL_QUESTION = 'What is the label of this slide?';

/** Label samples: `label` is the class; the turns ask for it, so the sample is also a valid conversation. */
export function parseSlideLabelsCsv(text: string, context: FormatContext): ParsedDataset {
  const { rows, problems } = readCsvRows(text, context.file);
  const parsed = buildSamples(rows, context.file, (i) => rows[i].row, ({ cells }, row) => {
    const label = requireText(cells, 'label').trim();
    return {
      id: rowId(context.file, row),
      slideId: requireText(cells, 'slide_id'),
      features: [{ path: resolveFeaturePath(requireText(cells, 'features_path'), context.featuresDir) }],
      turns: [
        { role: 'user', text: withImagePlaceholder(SLIDE_LABEL_QUESTION) },
        { role: 'assistant', text: label },
      ],
      label,
      answer: label,
      origin: { file: context.file, row },
    };
  });
  return { samples: parsed.samples, problems: [...problems, ...parsed.problems] };
}
