import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { SET_STATE, unpickle } from '../../lib/io/pickle.js';
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

  it('reports truncation and malformed streams instead of crashing', () => {
    expect(() => unpickle(pickleBytes(...PROTO2, 0x58, 0xff, 0xff, 0xff, 0x7f, 'abc'), { file: 't.pkl', allow: none })).toThrow(/t\.pkl: pickle is truncated/);
    expect(() => unpickle(pickleBytes(...PROTO2, STOP), { file: 'u.pkl', allow: none })).toThrow(/stack underflow/);
    expect(() => unpickle(pickleBytes(...PROTO2, 0x68, 5, STOP), { file: 'm.pkl', allow: none })).toThrow(/memo entry 5/);
    expect(() => unpickle(pickleBytes(...PROTO2, NONE), { file: 'e.pkl', allow: none })).toThrow(/truncated/);
  });
});
