/**
 * Named tensors that live in one allocation: a model's parameters in their dtype, or their
 * gradients in f32. Each name is a view of the flat buffer, so zeroing, summing squares or
 * all-reducing every gradient is one call on `buffer`.
 */
import type { StoredTensor } from '../io/storedTensor.js';
import { toFloat32 } from '../io/storedTensor.js';
import type { Device, DType } from '../native.js';
import { scale } from '../ops.js';
import { fill } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { WeightSpec } from './qwen3Weights.js';

export class ParameterSet {
  /** Every element of every tensor, in spec order. */
  readonly buffer: Tensor;
  /** Views of `buffer` by name, with their shapes. */
  readonly tensors: ReadonlyMap<string, Tensor>;

  private constructor(buffer: Tensor, tensors: Map<string, Tensor>) {
    this.buffer = buffer;
    this.tensors = tensors;
  }

  /** Uninitialised storage for `specs`, or zeros with `zero`. */
  static allocate(specs: readonly WeightSpec[], options: { dtype: DType; device: Device; zero?: boolean }): ParameterSet {
    const total = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    const buffer = options.zero ? Tensor.zeros([total], options) : Tensor.empty([total], options);
    const tensors = new Map<string, Tensor>();
    let offset = 0;
    for (const { name, shape } of specs) {
      const count = shape.reduce((a, b) => a * b, 1);
      using flat = buffer.narrow(offset, offset + count);
      tensors.set(name, flat.reshape(shape));
      offset += count;
    }
    return new ParameterSet(buffer, tensors);
  }

  /** The view called `name`; a RangeError naming it when there is none. */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new RangeError(`no parameter '${name}'`);
    return t;
  }

  /** Copies `stored` (any float dtype, converted) into the view `name`; shapes are checked by the caller's specs. */
  load(name: string, stored: StoredTensor, source: string): void {
    const target = this.get(name);
    using host = Tensor.from(toFloat32(stored, source, name), target.shape);
    using placed = host.to(target.device);
    scale(placed, 1, { out: target });
  }

  zero(): void {
    fill(this.buffer);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.buffer.dispose();
  }
}
