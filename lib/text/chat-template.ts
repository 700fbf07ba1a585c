/**
 * Hugging Face chat templates rendered by `@huggingface/jinja`, as Python's jinja2 renders them.
 *
 * One difference matters for Qwen3: `@huggingface/jinja` 0.5.11 ignores the argument of
 * `str.strip(chars)` / `lstrip(chars)` / `rstrip(chars)` and always trims whitespace, so Qwen3's
 * `content.lstrip('\n')` drops an answer's leading space that transformers keeps (the same bug,
 * fixed, as huggingface/swift-jinja#64). {@link compileChatTemplate} rewrites those calls in the
 * parsed template into calls of Python-exact functions handed to every render.
 */
import { Template } from '@huggingface/jinja';

/** The part of a jinja AST node the rewrite looks at. */
interface AstNode {
  type: string;
  [field: string]: unknown;
}

const STRIP_METHODS = ['strip', 'lstrip', 'rstrip'] as const;
type StripMethod = (typeof STRIP_METHODS)[number];

/** Python's `str.strip` family with a `chars` argument: removes any of `chars` from the end(s). */
const pythonStrips: Record<`python_${StripMethod}`, (text: unknown, chars: unknown) => string> = {
  python_strip: (text, chars) => stripChars(text, chars, true, true),
  python_lstrip: (text, chars) => stripChars(text, chars, true, false),
  python_rstrip: (text, chars) => stripChars(text, chars, false, true),
};

function stripChars(text: unknown, chars: unknown, left: boolean, right: boolean): string {
  if (typeof text !== 'string') throw new TypeError(`chat template: strip called on ${typeof text}, not a string`);
  if (chars === null || chars === undefined) return left && right ? text.trim() : left ? text.trimStart() : text.trimEnd();
  if (typeof chars !== 'string') throw new TypeError(`chat template: strip(chars) needs a string, got ${typeof chars}`);
  const set = new Set(chars);
  const characters = Array.from(text);
  let start = 0;
  let end = characters.length;
  while (left && start < end && set.has(characters[start])) start++;
  while (right && end > start && set.has(characters[end - 1])) end--;
  return characters.slice(start, end).join('');
}

/** A chat template parsed once, rendered many times. */
export interface ChatTemplate {
  /** The rendered string for these template variables (`messages`, `add_generation_prompt`, …). */
  render(variables: Record<string, unknown>): string;
}

/** Parses a Jinja chat template, with `x.strip(chars)` (and `lstrip`, `rstrip`) behaving as in Python. */
export function compileChatTemplate(source: string): ChatTemplate {
  const template = new Template(source);
  rewriteStripCalls(template.parsed as unknown as AstNode);
  return { render: (variables) => template.render({ ...variables, ...pythonStrips }) };
}

/** Turns every `x.strip(chars)`-style call into `python_strip(x, chars)`, in place. */
function rewriteStripCalls(node: AstNode): void {
  for (const value of Object.values(node)) {
    for (const child of Array.isArray(value) ? value : [value]) {
      if (isAstNode(child)) rewriteStripCalls(child);
    }
  }
  if (node.type !== 'CallExpression') return;
  const callee = node.callee as AstNode;
  const args = node.args as AstNode[];
  const method = callee.property as AstNode | undefined;
  if (callee.type !== 'MemberExpression' || callee.computed || method?.type !== 'Identifier') return;
  if (!STRIP_METHODS.includes(method.value as StripMethod) || args.length !== 1) return;
  method.value = `python_${method.value as StripMethod}`; // the Identifier node becomes the callee
  node.callee = method;
  node.args = [callee.object, ...args];
}

function isAstNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).type === 'string';
}
