/**
 * Activations in few large allocations: a bump allocator that hands out views of one big block
 * per dtype. A training forward carves every activation its backward reads out of one arena, so
 * a step makes two allocations (model dtype and f32 statistics) instead of ~20 per layer — on a
 * GPU each plain allocation and free is a device synchronisation.
 *
 * Views keep their block alive (they share its storage), so disposing the arena and the views
 * may happen in any order. Nothing is ever handed out twice: there is no reset, an arena lives
 * as long as the activations it holds.
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
    return flat.reshape(shape);
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
  }
}
