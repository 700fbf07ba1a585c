/**
 * Benchmark JSON as TC-SSA converts SlideBench: `{samples: [{slide_id, question, choices:
 * ["A) …", …], answer: "A", category: "Broad - Narrow", features_path}]}`.
 */
import { resolveFeaturePath } from '../featurePaths.js';
import { multipleChoicePrompt, stripChoiceLabel } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { type FormatContext, asRecord, buildSamples, optionalText, requireText, requireTextList, rowId } from './records.js';

const CATEGORY_SEPARATOR = ' - ';

/** Closed-question samples with answer letter and categories; choice texts lose their `A) ` labels. */
export function parseBenchmarkJson(records: unknown[], context: FormatContext): ParsedDataset {
  return buildSamples(records, context.file, (i) => i + 1, (value, row) => {
    const record = asRecord(value);
    const choices = requireTextList(record, 'choices').map(stripChoiceLabel);
    const answer = requireText(record, 'answer').trim();
    const category = optionalText(record, 'category');
    const split = category?.indexOf(CATEGORY_SEPARATOR) ?? -1;
    return {
      id: optionalText(record, 'id') ?? rowId(context.file, row),
      slideId: requireText(record, 'slide_id'),
      features: [{ path: resolveFeaturePath(requireText(record, 'features_path'), context.featuresDir) }],
      turns: [
        { role: 'user', text: multipleChoicePrompt(requireText(record, 'question'), choices) },
        { role: 'assistant', text: answer },
      ],
      choices,
      answer,
      broadCategory: split >= 0 ? category!.slice(0, split).trim() : category,
      narrowCategory: split >= 0 ? category!.slice(split + CATEGORY_SEPARATOR.length).trim() : undefined,
      origin: { file: context.file, row },
    };
  });
}
