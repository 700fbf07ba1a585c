/**
 * SlideChat / SlideInstruct JSON (`[{id, image: path | [path], conversations: [{from, value}]}]`):
 * multi-turn conversations; `<image>` sits anywhere in a human turn; image paths are relative
 * to the features directory (`./BRCA/TCGA-….csv`).
 */
import { resolveFeaturePath, slideIdOf } from '../featurePaths.js';
import type { ParsedDataset, Turn } from '../sample.js';
import { type FormatContext, RecordError, asRecord, buildSamples, describeValue, requireText, requireTextList, rowId } from './records.js';

const ROLES: Readonly<Record<string, Turn['role']>> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant' };

/** Conversation samples, turns kept verbatim (the `<image>` placeholder stays where the dataset put it). */
export function parseSlideChatJson(records: unknown[], context: FormatContext): ParsedDataset {
  return buildSamples(records, context.file, (i) => i + 1, (value, row) => {
    const record = asRecord(value);
    const images = typeof record.image === 'string' ? [requireText(record, 'image')] : requireTextList(record, 'image');
    const turns = conversationTurns(record.conversations);
    const lastAssistant = turns.findLast((turn) => turn.role === 'assistant');
    return {
      id: typeof record.id === 'string' && record.id !== '' ? record.id : rowId(context.file, row),
      slideId: slideIdOf(images[0]),
      features: images.map((image) => ({ path: resolveFeaturePath(image, context.featuresDir) })),
      turns,
      answer: lastAssistant?.text,
      origin: { file: context.file, row },
    };
  });
}

/** The record's conversation as alternating user / assistant turns, starting with the user. */
function conversationTurns(conversations: unknown): Turn[] {
  if (!Array.isArray(conversations) || conversations.length === 0) throw new RecordError('record has no "conversations" list');
  return conversations.map((message, index) => {
    const { from, value } = asRecord(message);
    const role = typeof from === 'string' ? ROLES[from] : undefined;
    if (!role) throw new RecordError(`conversations[${index}].from is ${describeValue(from)}; expected "human" or "gpt"`);
    const expected = index % 2 === 0 ? 'user' : 'assistant';
    if (role !== expected) throw new RecordError(`conversations[${index}] is a ${role} turn where a ${expected} turn should be (turns alternate, starting with human)`);
    if (typeof value !== 'string' || value.trim() === '') throw new RecordError(`conversations[${index}].value is missing or empty`);
    return { role, text: value };
  });
}
