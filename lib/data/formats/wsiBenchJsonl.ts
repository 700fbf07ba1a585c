/**
 * WSI-Bench JSONL (one `{question_id, image, question, "T-answer", metadata}` per line): open
 * questions; `image` (`TCGA-BRCA/<slide>.pt`) is relative to the features directory and
 * `metadata` names the task.
 */
import { jsonErrorReason } from '../../io/jsonText.js';
import { resolveFeaturePath, slideIdOf } from '../featurePaths.js';
import { withImagePlaceholder } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { type FormatContext, RecordError, asRecord, buildSamples, optionalText, requireText } from './records.js';

/** Open-question samples, one per non-empty line; a line that is not JSON is a problem at that line. */
export function parseWsiBenchJsonl(text: string, context: FormatContext): ParsedDataset {
  const lines = text.split(/\r?\n/).map((line, index) => ({ line, row: index + 1 })).filter(({ line }) => line.trim() !== '');
  return buildSamples(lines, context.file, (i) => lines[i].row, ({ line }, row) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new RecordError(`line is not valid JSON (${jsonErrorReason(error, line)})`);
    }
    const record = asRecord(value);
    const image = requireText(record, 'image');
    const answer = requireText(record, 'T-answer');
    return {
      id: requireText(record, 'question_id'),
      slideId: slideIdOf(image),
      features: [{ path: resolveFeaturePath(image, context.featuresDir) }],
      turns: [
        { role: 'user', text: withImagePlaceholder(requireText(record, 'question')) },
        { role: 'assistant', text: answer },
      ],
      answer,
      task: optionalText(record, 'metadata'),
      origin: { file: context.file, row },
    };
  });
}
