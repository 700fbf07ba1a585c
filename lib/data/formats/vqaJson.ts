/** VQA JSON (`[{slide_id, question, answer, features_path}]`): open questions, one per record. */
import { resolveFeaturePath } from '../featurePaths.js';
import { withImagePlaceholder } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { type FormatContext, asRecord, buildSamples, requireText, rowId } from './records.js';

/** Open-question samples; the question gets the image placeholder in front unless it has one. */
export function parseVqaJson(records: unknown[], context: FormatContext): ParsedDataset {
  return buildSamples(records, context.file, (i) => i + 1, (value, row) => {
    const record = asRecord(value);
    const answer = requireText(record, 'answer');
    return {
      id: rowId(context.file, row),
      slideId: requireText(record, 'slide_id'),
      features: [{ path: resolveFeaturePath(requireText(record, 'features_path'), context.featuresDir) }],
      turns: [
        { role: 'user', text: withImagePlaceholder(requireText(record, 'question')) },
        { role: 'assistant', text: answer },
      ],
      answer,
      origin: { file: context.file, row },
    };
  });
}
