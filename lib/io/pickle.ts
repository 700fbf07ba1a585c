/**
 * A safe-subset pickle interpreter: enough of protocols 2–5 to read what `torch.save` and
 * `numpy.save` write, and nothing that runs code. A pickle may only name globals on an explicit
 * allow-list handed in by the caller; any other global (`os.system`, `builtins.eval`, …) is
 * refused with a {@link FormatError} the moment the pickle names it. Nothing is ever executed.
 *
 * Python values become: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes/bytearray → Uint8Array, tuple and list → Array,
 * dict → Map, set/frozenset → Set. Allowed globals build whatever their factory returns.
 */
import { FormatError } from '../errors.js';

/** A factory standing for an allowed Python callable: it receives the call's arguments. */
export type PickleFactory = (args: unknown[]) => unknown;

/**
 * What a pickle may name, keyed `module.name` (e.g. `torch._utils._rebuild_tensor_v2`).
 * Anything absent is refused.
 */
export type PickleAllowList = ReadonlyMap<string, PickleFactory>;

/**
 * Objects built by an allowed factory may take a BUILD (`__setstate__`) by implementing this
 * symbol; BUILD on any other object (except a dict, whose attribute state is ignored) is refused.
 */
export const SET_STATE: unique symbol = Symbol('pickle.setState');

/** An object that accepts pickle's BUILD opcode. */
export interface AcceptsPickleState {
  [SET_STATE](state: unknown): void;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** The file the pickle came from, named in every error. */
  file: string;
  /** The globals the pickle may name. */
  allow: PickleAllowList;
  /** Resolves a persistent id (BINPERSID), e.g. a torch storage reference. Refused when absent. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** An allowed global, as it sits on the stack until a REDUCE or NEWOBJ calls it (or as an argument, e.g. a storage class). */
export class AllowedGlobal {
  constructor(
    readonly name: string,
    readonly factory: PickleFactory,
  ) {}
}

/** Opcodes of the binary protocols (see CPython's Lib/pickletools.py). */
const Op = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_TUPLE: 0x29, // )
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
} as const;

const HIGHEST_PROTOCOL = 5;
/** Two hexadecimal digits of each byte value. */
const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Runs the safe subset of the pickle machine over `bytes` and returns the unpickled value.
 * Throws {@link FormatError} naming `options.file` on a global outside the allow-list, an
 * opcode outside the subset, or malformed / truncated input.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return new PickleMachine(bytes, options).run();
}

class PickleMachine {
  private readonly view: DataView;
  private pos = 0;
  private stack: unknown[] = [];
  private readonly marks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): unknown {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case Op.PROTO: {
          const protocol = this.u8();
          if (protocol > HIGHEST_PROTOCOL) this.fail(`pickle protocol ${protocol} is not supported`, at);
          break;
        }
        case Op.FRAME:
          this.take(8); // a frame length hint; the data follows inline
          break;
        case Op.STOP:
          return this.pop(at);
        case Op.MARK:
          this.marks.push(this.stack);
          this.stack = [];
          break;
        case Op.POP:
          this.pop(at);
          break;
        case Op.POP_MARK:
          this.popMark(at);
          break;
        case Op.DUP:
          this.push(this.top(at));
          break;
        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.BININT:
          this.push(this.view.getInt32(this.take(4), true));
          break;
        case Op.BININT1:
          this.push(this.u8());
          break;
        case Op.BININT2:
          this.push(this.view.getUint16(this.take(2), true));
          break;
        case Op.LONG1:
          this.push(this.long(this.u8()));
          break;
        case Op.LONG4:
          this.push(this.long(this.length32(at, true)));
          break;
        case Op.BINFLOAT:
          this.push(this.view.getFloat64(this.take(8), false));
          break;
        case Op.SHORT_BINUNICODE:
          this.push(this.text(this.u8(), at));
          break;
        case Op.BINUNICODE:
          this.push(this.text(this.length32(at), at));
          break;
        case Op.BINUNICODE8:
          this.push(this.text(this.length64(at), at));
          break;
        case Op.SHORT_BINSTRING:
          this.push(latin1.decode(this.slice(this.u8())));
          break;
        case Op.BINSTRING:
          this.push(latin1.decode(this.slice(this.length32(at))));
          break;
        case Op.SHORT_BINBYTES:
          this.push(this.slice(this.u8()).slice());
          break;
        case Op.BINBYTES:
          this.push(this.slice(this.length32(at)).slice());
          break;
        case Op.BINBYTES8:
        case Op.BYTEARRAY8:
          this.push(this.slice(this.length64(at)).slice());
          break;
        case Op.EMPTY_TUPLE:
        case Op.EMPTY_LIST:
          this.push([]);
          break;
        case Op.TUPLE1:
          this.push([this.pop(at)]);
          break;
        case Op.TUPLE2: {
          const b = this.pop(at);
          this.push([this.pop(at), b]);
          break;
        }
        case Op.TUPLE3: {
          const c = this.pop(at);
          const b = this.pop(at);
          this.push([this.pop(at), b, c]);
          break;
        }
        case Op.TUPLE:
        case Op.LIST:
          this.push(this.popMark(at));
          break;
        case Op.APPEND: {
          const item = this.pop(at);
          this.list(this.top(at), at).push(item);
          break;
        }
        case Op.APPENDS: {
          const items = this.popMark(at);
          const list = this.list(this.top(at), at);
          for (const item of items) list.push(item); // not push(...items): that spreads onto the call stack
          break;
        }
        case Op.EMPTY_DICT:
          this.push(new Map());
          break;
        case Op.DICT: {
          const dict = new Map();
          this.setItems(dict, this.popMark(at), at);
          this.push(dict);
          break;
        }
        case Op.SETITEM: {
          const value = this.pop(at);
          const key = this.pop(at);
          this.setItems(this.top(at), [key, value], at);
          break;
        }
        case Op.SETITEMS: {
          const items = this.popMark(at);
          this.setItems(this.top(at), items, at);
          break;
        }
        case Op.EMPTY_SET:
          this.push(new Set());
          break;
        case Op.ADDITEMS: {
          const items = this.popMark(at);
          const set = this.top(at);
          if (!(set instanceof Set)) this.fail('ADDITEMS on something that is not a set', at);
          for (const item of items) set.add(item);
          break;
        }
        case Op.FROZENSET:
          this.push(new Set(this.popMark(at)));
          break;
        case Op.BINPUT:
          this.memo.set(this.u8(), this.top(at));
          break;
        case Op.LONG_BINPUT:
          this.memo.set(this.view.getUint32(this.take(4), true), this.top(at));
          break;
        case Op.MEMOIZE:
          this.memo.set(this.memo.size, this.top(at));
          break;
        case Op.BINGET:
          this.push(this.memoGet(this.u8(), at));
          break;
        case Op.LONG_BINGET:
          this.push(this.memoGet(this.view.getUint32(this.take(4), true), at));
          break;
        case Op.GLOBAL: {
          const module = latin1.decode(this.line(at));
          const name = latin1.decode(this.line(at));
          this.push(this.allowedGlobal(module, name, at));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.pop(at);
          const module = this.pop(at);
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings', at);
          this.push(this.allowedGlobal(module, name, at));
          break;
        }
        case Op.REDUCE:
        case Op.NEWOBJ: {
          const args = this.pop(at);
          const callable = this.pop(at);
          if (!(callable instanceof AllowedGlobal)) this.fail('call of something that is not an allowed global', at);
          if (!Array.isArray(args)) this.fail(`call of ${callable.name} without an argument tuple`, at);
          this.push(this.call(callable, args, at));
          break;
        }
        case Op.BUILD: {
          const state = this.pop(at);
          this.build(this.top(at), state, at);
          break;
        }
        case Op.BINPERSID: {
          const pid = this.pop(at);
          if (!this.options.persistentLoad) this.fail('persistent id without a loader for it', at);
          this.push(this.options.persistentLoad(pid));
          break;
        }
        default:
          this.fail(`opcode 0x${op.toString(16).padStart(2, '0')} is outside the safe subset this reader accepts`, at);
      }
    }
  }

  private fail(message: string, at: number): never {
    throw new FormatError(`${this.options.file}: pickle: ${message} (at byte ${at})`);
  }

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(at: number): unknown {
    if (this.stack.length === 0) this.fail('stack underflow', at);
    return this.stack.pop();
  }

  private top(at: number): unknown {
    if (this.stack.length === 0) this.fail('stack underflow', at);
    return this.stack[this.stack.length - 1];
  }

  private popMark(at: number): unknown[] {
    const items = this.stack;
    const outer = this.marks.pop();
    if (!outer) this.fail('no MARK to pop to', at);
    this.stack = outer;
    return items;
  }

  private memoGet(index: number, at: number): unknown {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} was never stored`, at);
    return this.memo.get(index);
  }

  private list(value: unknown, at: number): unknown[] {
    if (!Array.isArray(value)) this.fail('append to something that is not a list', at);
    return value;
  }

  private setItems(dict: unknown, items: unknown[], at: number): void {
    if (!(dict instanceof Map)) this.fail('item assignment on something that is not a dict', at);
    if (items.length % 2 !== 0) this.fail('odd number of items for a dict', at);
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private allowedGlobal(module: string, name: string, at: number): AllowedGlobal {
    const qualified = `${module}.${name}`;
    const factory = this.options.allow.get(qualified);
    if (!factory) {
      this.fail(`refusing global ${qualified}: it is not on the allow-list of safe globals (nothing was executed)`, at);
    }
    return new AllowedGlobal(qualified, factory);
  }

  private call(callable: AllowedGlobal, args: unknown[], at: number): unknown {
    try {
      return callable.factory(args);
    } catch (error) {
      if (error instanceof FormatError) throw error;
      this.fail(`${callable.name}: ${(error as Error).message}`, at);
    }
  }

  private build(target: unknown, state: unknown, at: number): void {
    if (target instanceof Map) return; // attribute state of a dict subclass (OrderedDict._metadata)
    if (typeof target === 'object' && target !== null && SET_STATE in target) {
      try {
        (target as AcceptsPickleState)[SET_STATE](state);
      } catch (error) {
        if (error instanceof FormatError) throw error;
        this.fail(`BUILD: ${(error as Error).message}`, at);
      }
      return;
    }
    this.fail('BUILD on an object that takes no state', at);
  }

  private take(length: number): number {
    const start = this.pos;
    if (length > this.bytes.length - start) {
      throw new FormatError(`${this.options.file}: pickle is truncated (needs ${length} bytes at byte ${start}, has ${this.bytes.length - start})`);
    }
    this.pos += length;
    return start;
  }

  private u8(): number {
    return this.bytes[this.take(1)];
  }

  private slice(length: number): Uint8Array {
    const start = this.take(length);
    return this.bytes.subarray(start, start + length);
  }

  private length32(at: number, signed = false): number {
    const length = signed ? this.view.getInt32(this.take(4), true) : this.view.getUint32(this.take(4), true);
    if (length < 0) this.fail('negative length', at);
    return length;
  }

  private length64(at: number): number {
    const length = this.view.getBigUint64(this.take(8), true);
    if (length > BigInt(this.bytes.length)) this.fail(`length ${length} exceeds the pickle's size`, at);
    return Number(length);
  }

  private text(length: number, at: number): string {
    const raw = this.slice(length);
    try {
      return utf8.decode(raw);
    } catch {
      this.fail('string is not valid UTF-8', at);
    }
  }

  /** A newline-terminated argument of the GLOBAL opcode. */
  private line(at: number): Uint8Array {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('GLOBAL argument without a newline', at);
    const start = this.pos;
    this.pos = end + 1;
    return this.bytes.subarray(start, end);
  }

  /**
   * A little-endian two's-complement integer of `length` bytes, in time linear in `length`: the
   * bytes become one hexadecimal string that BigInt parses at once (shifting a BigInt byte by
   * byte would copy it each time, quadratic in the length).
   */
  private long(length: number): number | bigint {
    const digits = this.slice(length);
    if (length === 0) return 0;
    const hex = new Array<string>(length);
    for (let i = 0; i < length; i++) hex[i] = HEX_BYTES[digits[length - 1 - i]];
    let value = BigInt(`0x${hex.join('')}`);
    if (digits[length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
}
