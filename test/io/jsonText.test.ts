/** JSON that does not parse: one line, naming the file, with the line and column where it breaks. */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { jsonErrorReason, parseJson } from '../../lib/io/jsonText.js';

const reason = (text: string) => {
  try {
    JSON.parse(text);
  } catch (error) {
    return jsonErrorReason(error, text);
  }
  throw new Error(`${text} parsed`);
};

describe('JSON parse errors', () => {
  it('give V8\'s position as a line and column', () => {
    expect(reason('{"a": 1,\n "b": 2,}')).toMatch(/ at line 2, column 9$/);
    expect(reason('[\n  1,\n  2\n  3\n]')).toMatch(/at line 4, column 3$/);
  });

  it('stay on one line when the parser quotes text with line breaks or control characters', () => {
    expect(reason('{"a":\n\n\n  tru}')).toBe('Unexpected token \'}\', "{"a":\\n\\n\\n  tru}" is not valid JSON');
    expect(reason('[1,\n2,\n\u0001]')).not.toMatch(/[\u0000-\u001f]/);
    expect(reason('{"a": "x\ny"}')).toMatch(/^Bad control character .* at line 1, column 9$/);
  });

  it('name the file in a FormatError; valid text parses', () => {
    expect(parseJson('{"a": [1, 2]}', 'x.json')).toEqual({ a: [1, 2] });
    expect(() => parseJson('{"a": }', 'data/x.json')).toThrow(FormatError);
    expect(() => parseJson('{"a": }', 'data/x.json')).toThrow(/^data\/x\.json: not valid JSON \(Unexpected token '}', .* is not valid JSON\)$/);
  });
});
