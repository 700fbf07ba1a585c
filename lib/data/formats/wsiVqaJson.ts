/**
 * WSI-VQA JSON (`[{Id, Question, Choice?, Answer}]`): questions about a TCGA case; closed when
 * `Choice` lists the options (the answer is one of their texts), open otherwise. A case's
 * feature file is found in the features directory by name (`<Id>-….pt`, see findCaseFeatures).
 */
import { findCaseFeatures, resolveFeaturePath } from '../featurePaths.js';
import { choiceLetter, multipleChoicePrompt, withImagePlaceholder } from '../prompt.js';
import type { ParsedDataset } from '../sample.js';
import { type FormatContext, asRecord, buildSamples, requireText, requireTextList, rowId } from './records.js';

/**
 * Closed questions get the answer as a letter (matched case-insensitively; an answer matching no
 * choice is kept as text, which `checkDataset` reports); open questions keep the answer text.
 * A case without a feature file points at `<features dir>/<Id>.pt`.
 */
export function parseWsiVqaJson(records: unknown[], context: FormatContext): ParsedDataset {
  return buildSamples(records, context.file, (i) => i + 1, (value, row) => {
    const record = asRecord(value);
    const caseId = requireText(record, 'Id');
    const question = requireText(record, 'Question');
    const answerText = requireText(record, 'Answer').trim();
    const choices = record.Choice === undefined ? undefined : requireTextList(record, 'Choice').map((c) => c.trim());
    const index = choices?.findIndex((c) => c.toLowerCase() === answerText.toLowerCase()) ?? -1;
    const answer = choices && index >= 0 ? choiceLetter(index) : answerText;
    const featurePath = findCaseFeatures(caseId, context.featureFiles ?? []) ?? resolveFeaturePath(`${caseId}.pt`, context.featuresDir);
    return {
      id: rowId(context.file, row),
      slideId: caseId,
      features: [{ path: featurePath }],
      turns: [
        { role: 'user', text: choices ? multipleChoicePrompt(question, choices) : withImagePlaceholder(question) },
        { role: 'assistant', text: answer },
      ],
      choices,
      answer,
      origin: { file: context.file, row },
    };
  });
}
