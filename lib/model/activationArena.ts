/**
 * Activations in few large allocations: a bump allocator that hands out views of one big block
 * per dtype. A training forward carves every activation its backward reads out of one arena, and
 * the backward reuses one scratch arena layer after layer, so a step makes a handful of
 * allocations instead of ~35 per layer — on a GPU each plain allocation and free is a device
 * synchronisation.
 *
 * Views keep their block alive (they share its storage), so disposing the arena and the views
 * may happen in any order. Memory is handed out again only by {@link ActivationArena.reset},
 * which refuses while a view taken before is still undisposed (scratch reused layer after layer
 * by the backward; ops run in order on one stream, so reuse never races a kernel).
 */
import type { Device, DType } from '../native.js';
import { Tensor } from '../tensor.js';

/** Makes an uninitialised tensor (a fresh allocation, or a view of an arena). */
export type Allocate = (shape: readonly number[], dtype: DType) => Tensor;

/** One allocation per tensor: what an op would do by itself. */
export function allocateEach(device: Device): Allocate {
  return (shape, dtype) => Tensor.empty(shape, { dtype, device });
}

/**
 * The size hint of an arena holding `values` elements in `dtype` and `stats` in f32 (the two
 * add up when the model itself is f32).
 */
export function valuesAndStats(dtype: DType, values: number, stats: number): Partial<Record<DType, number>> {
  return dtype === 'f32' ? { f32: values + stats } : { [dtype]: values, f32: stats };
}

interface Block {
  buffer: Tensor;
  used: number;
}

export class ActivationArena {
  readonly #device: Device;
  readonly #sizeHint: Partial<Record<DType, number>>;
  readonly #blocks = new Map<DType, Block[]>();
  #views: Tensor[] = [];

  /**
   * `sizeHint` gives, per dtype, the elements expected in all (the first block's size). A request
   * that does not fit opens another block of at least that size, so a wrong hint costs an
   * allocation, never correctness.
   */
  constructor(device: Device, sizeHint: Partial<Record<DType, number>>) {
    this.#device = device;
    this.#sizeHint = sizeHint;
  }

  /** A view of `shape` elements of `dtype`, uninitialised, never overlapping another. */
  take(shape: readonly number[], dtype: DType): Tensor {
    const count = shape.reduce((a, b) => a * b, 1);
    const blocks = this.#blocks.get(dtype) ?? [];
    this.#blocks.set(dtype, blocks);
    let block = blocks.at(-1);
    if (!block || block.used + count > block.buffer.numel) {
      const elements = Math.max(count, this.#sizeHint[dtype] ?? 0, 1);
      block = { buffer: Tensor.empty([elements], { dtype, device: this.#device }), used: 0 };
      blocks.push(block);
    }
    using flat = block.buffer.narrow(block.used, block.used + count);
    block.used += count;
    const view = flat.reshape(shape);
    this.#views.push(view);
    return view;
  }

  /** Makes all memory free to take again. Throws if a view taken since the last reset is still in use (undisposed). */
  reset(): void {
    const live = this.#views.filter((v) => !v.disposed);
    if (live.length > 0) throw new Error(`ActivationArena.reset: ${live.length} view(s) still in use, e.g. ${live[0].describe()}`);
    this.#views = [];
    for (const blocks of this.#blocks.values()) for (const block of blocks) block.used = 0;
  }

  /** This arena's {@link take} as an {@link Allocate}. */
  get allocate(): Allocate {
    return (shape, dtype) => this.take(shape, dtype);
  }

  /** Blocks allocated so far (one per dtype when the hints were right). */
  get allocations(): number {
    let n = 0;
    for (const blocks of this.#blocks.values()) n += blocks.length;
    return n;
  }

  dispose(): void {
    for (const blocks of this.#blocks.values()) for (const { buffer } of blocks) buffer.dispose();
    this.#blocks.clear();
    this.#views = [];
  }
}
