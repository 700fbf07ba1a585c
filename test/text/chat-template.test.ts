import { describe, expect, test } from 'vitest';
import { compileChatTemplate } from '../../lib/text/chat-template.js';

describe('compileChatTemplate', () => {
  test("strips only the given characters, as Python's str.strip(chars) does", () => {
    const template = compileChatTemplate(
      "{{ text.lstrip('\\n') }}|{{ text.rstrip('\\n') }}|{{ text.strip('\\n ') }}|{{ text.strip() }}|{{ 'xxyx'.strip('x') }}",
    );
    expect(template.render({ text: '\n\n \tGrade 2. \n' })).toBe(' \tGrade 2. \n|\n\n \tGrade 2. |\tGrade 2.|Grade 2.|y');
  });

  test('rewrites strip calls nested in other expressions', () => {
    const template = compileChatTemplate("{{ text.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}");
    expect(template.render({ text: '<think>\n reasoning \n</think>\n\nanswer' })).toBe(' reasoning ');
  });
});
