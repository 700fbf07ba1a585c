/**
 * JSON text that does not parse, said so on one line with where it breaks: V8's "at position N"
 * becomes a line and column (what an editor goes to in a dataset of thousands of lines), and the
 * snippet V8 quotes has its line breaks and control characters escaped.
 */
import { FormatError } from '../errors.js';

/** `JSON.parse(text)`, or a {@link FormatError} "`where`: not valid JSON (reason at line L, column C)". */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${where}: not valid JSON (${jsonErrorReason(error, text)})`, { cause: error });
  }
}

/** The parser's message for `text` on one line, its position given as a line and column (1-based). */
export function jsonErrorReason(error: unknown, text: string): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/[\u0000-\u001f]/g, escapeControl);
  const at = /at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  if (!at) return message;
  const { line, column } = lineAndColumn(text, Number(at[1]));
  return message.replace(at[0], `at line ${line}, column ${column}`);
}

function escapeControl(character: string): string {
  if (character === '\n') return '\\n';
  if (character === '\r') return '\\r';
  if (character === '\t') return '\\t';
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: position - lineStart + 1 };
}
