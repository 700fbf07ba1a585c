/** Captions CSV (`slide_id,caption,features_path`): stage-1 caption pretraining samples. */
import { CAPTION_INSTRUCTION, withImagePlaceholder } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { resolveFeaturePath } from '../featurePaths.js';
import { readCsvRows } from './csvRecords.js';
import { type FormatContext, buildSamples, requireText, rowId } from './records.js';

/** Columns that identify a captions CSV. */
export const CAPTIONS_COLUMNS = ['slide_id', 'caption', 'features_path'] as const;

/** Caption samples: the user asks for a description ({@link CAPTION_INSTRUCTION}); the caption is the answer. */
export function parseCaptionsCsv(text: string, context: FormatContext): ParsedDataset {
  const { rows, problems } = readCsvRows(text, context.file);
  const parsed = buildSamples(rows, context.file, (i) => rows[i].row, ({ cells }, row) => {
    const caption = requireText(cells, 'caption');
    return {
      id: rowId(context.file, row),
      slideId: requireText(cells, 'slide_id'),
      features: [{ path: resolveFeaturePath(requireText(cells, 'features_path'), context.featuresDir) }],
      turns: [
        { role: 'user', text: withImagePlaceholder(CAPTION_INSTRUCTION) },
        { role: 'assistant', text: caption },
      ],
      answer: caption,
      origin: { file: context.file, row },
    };
  });
  return { samples: parsed.samples, problems: [...problems, ...parsed.problems] };
}
