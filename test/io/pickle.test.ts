import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { SET_STATE, unpickle } from '../../lib/io/pickle.js';
import { PickledTensor, collectPickledTensors } from '../../lib/io/pickledTensor.js';
import { pickleBytes, shortString } from './helpers.js';

const PROTO2 = [0x80, 2];
const STOP = 0x2e;
const REDUCE = 0x52;
const TUPLE1 = 0x85;
const EMPTY_DICT = 0x7d;
const MARK = 0x28;
const SETITEMS = 0x75;
const BININT1 = 0x4b;
const EMPTY_LIST = 0x5d;
const APPENDS = 0x65;
const STACK_GLOBAL = 0x93;
const NONE = 0x4e;
const BUILD = 0x62;
const none = new Map();

describe('unpickle', () => {
  it('reads containers and scalars', () => {
    // {'a': [1, 2, 'x'], 'b': None, 'big': 2**70, 'neg': -2, 'f': 1.5}
    const bytes = pickleBytes(
      ...PROTO2,
      EMPTY_DICT,
      MARK,
      ...shortString('a'),
      EMPTY_LIST,
      MARK,
      BININT1, 1,
      BININT1, 2,
      ...shortString('x'),
      APPENDS,
      ...shortString('b'),
      NONE,
      ...shortString('big'),
      0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, // LONG1 2**70
      ...shortString('neg'),
      0x4a, 0xfe, 0xff, 0xff, 0xff, // BININT -2
      ...shortString('f'),
      0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, // BINFLOAT 1.5 (big-endian)
      SETITEMS,
      STOP,
    );
    const value = unpickle(bytes, { file: 'x.pkl', allow: none }) as Map<string, unknown>;
    expect(value.get('a')).toEqual([1, 2, 'x']);
    expect(value.get('b')).toBeNull();
    expect(value.get('big')).toBe(2n ** 70n);
    expect(value.get('neg')).toBe(-2);
    expect(value.get('f')).toBe(1.5);
  });

  it('refuses os.system before anything could run, naming the file and the global', () => {
    // os.system('echo pwned') written by hand: GLOBAL 'os system', arg tuple, REDUCE.
    const bytes = pickleBytes(...PROTO2, 0x63, 'os\nsystem\n', ...shortString('echo pwned'), TUPLE1, REDUCE, STOP);
    expect(() => unpickle(bytes, { file: 'evil.pt', allow: none })).toThrow(FormatError);
    expect(() => unpickle(bytes, { file: 'evil.pt', allow: none })).toThrow(/evil\.pt: pickle: refusing global os\.system.*nothing was executed.*at byte 2/);
  });

  it('refuses posix.system and builtins.eval reached through STACK_GLOBAL', () => {
    for (const [module, name] of [
      ['posix', 'system'],
      ['builtins', 'eval'],
    ]) {
      const bytes = pickleBytes(...PROTO2, ...shortString(module), ...shortString(name), STACK_GLOBAL, ...shortString('1+1'), TUPLE1, REDUCE, STOP);
      expect(() => unpickle(bytes, { file: 'evil.pkl', allow: none })).toThrow(`refusing global ${module}.${name}`);
    }
  });

  it('calls only allowed factories and routes BUILD to objects that accept state', () => {
    const built: unknown[] = [];
    const allow = new Map([
      [
        'my.Thing',
        (args: unknown[]) => ({
          args,
          [SET_STATE]: (state: unknown) => built.push(state),
        }),
      ],
    ]);
    const bytes = pickleBytes(...PROTO2, 0x63, 'my\nThing\n', BININT1, 7, TUPLE1, REDUCE, BININT1, 9, BUILD, STOP);
    const value = unpickle(bytes, { file: 'ok.pkl', allow }) as { args: unknown[] };
    expect(value.args).toEqual([7]);
    expect(built).toEqual([9]);
  });

  it('refuses opcodes outside the safe subset (INST, OBJ, EXT)', () => {
    expect(() => unpickle(pickleBytes(...PROTO2, 0x69, 'os\nsystem\n', STOP), { file: 'inst.pkl', allow: none })).toThrow(/opcode 0x69 is outside the safe subset/);
    expect(() => unpickle(pickleBytes(...PROTO2, 0x82, 1, STOP), { file: 'ext.pkl', allow: none })).toThrow(/opcode 0x82/);
  });

  it('reads LONG4 integers of any length in linear time, with their sign', () => {
    const long4 = (digits: Uint8Array) =>
      unpickle(concat(pickleBytes(...PROTO2, 0x8b, ...[0, 8, 16, 24].map((shift) => (digits.length >>> shift) & 0xff)), digits, pickleBytes(STOP)), { file: 'long.pkl', allow: none });
    // Little-endian two's complement, as Python's int.to_bytes(n, 'little', signed=True).
    const reference = (digits: Uint8Array) => {
      let value = 0n;
      for (let i = digits.length - 1; i >= 0; i--) value = value * 256n + BigInt(digits[i]);
      return digits.length > 0 && digits[digits.length - 1] & 0x80 ? value - (1n << BigInt(8 * digits.length)) : value;
    };
    for (const digits of [
      Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0x80),
      Uint8Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) & 0xff),
    ]) {
      expect(BigInt(long4(digits) as number | bigint)).toBe(reference(digits));
    }
    expect(long4(Uint8Array.of(0xfe, 0xff))).toBe(-2);
    expect(long4(new Uint8Array(0))).toBe(0);
    // 400 KB took minutes when the integer was built byte by byte.
    const started = performance.now();
    const huge = long4(Uint8Array.from({ length: 400_000 }, (_, i) => i & 0x7f)) as bigint;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(huge % 256n).toBe(0n);
    expect(huge >> BigInt(8 * 399_999)).toBe(BigInt(399_999 & 0x7f));
  });

  it('appends 300 000 items at once without overflowing the stack', () => {
    const items = Uint8Array.from({ length: 600_000 }, (_, i) => (i % 2 === 0 ? BININT1 : (i >> 1) & 0xff));
    const list = unpickle(concat(pickleBytes(...PROTO2, EMPTY_LIST, MARK), items, pickleBytes(APPENDS, STOP)), { file: 'appends.pkl', allow: none }) as number[];
    expect(list).toHaveLength(300_000);
    expect(list[299_999]).toBe(299_999 & 0xff);
  });

  it('collects the tensors of a container shared by many paths once, under the first path', () => {
    class Leaf extends PickledTensor {
      materialize(): never {
        throw new Error('not materialized here');
      }
    }
    const leaf = new Leaf();
    // [x, x] nested 60 levels: 2^60 paths to the same leaf, 61 lists.
    let node: unknown[] = [leaf];
    for (let level = 0; level < 60; level++) node = [node, node];
    const started = performance.now();
    const found = collectPickledTensors(new Map<string, unknown>([['a', node], ['b', leaf]]), 'shared.pkl');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect([...found.keys()]).toEqual([`a.${'0.'.repeat(60)}0`, 'b']);
    expect(found.get('b')).toBe(leaf);
    // A cycle is walked once too.
    const cycle: unknown[] = [leaf];
    cycle.push(cycle);
    expect([...collectPickledTensors(cycle, 'cycle.pkl').keys()]).toEqual(['0']);
  });

  it('reports truncation and malformed streams instead of crashing', () => {
    expect(() => unpickle(pickleBytes(...PROTO2, 0x58, 0xff, 0xff, 0xff, 0x7f, 'abc'), { file: 't.pkl', allow: none })).toThrow(/t\.pkl: pickle is truncated/);
    expect(() => unpickle(pickleBytes(...PROTO2, STOP), { file: 'u.pkl', allow: none })).toThrow(/stack underflow/);
    expect(() => unpickle(pickleBytes(...PROTO2, 0x68, 5, STOP), { file: 'm.pkl', allow: none })).toThrow(/memo entry 5/);
    expect(() => unpickle(pickleBytes(...PROTO2, NONE), { file: 'e.pkl', allow: none })).toThrow(/truncated/);
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) (out.set(part, at), (at += part.length));
  return out;
}
