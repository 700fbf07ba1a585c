/**
 * Gradients summed over ranks in buckets, as PyTorch's DistributedDataParallel does: small
 * gradients are copied into flat f32 buffers of about 25 MB, each summed with one all-reduce and
 * copied back; a gradient of a bucket's size or more is summed where it lies, so the copies never
 * cost more than the small gradients' memory.
 */
import { scale } from '../ops.js';
import { Tensor } from '../tensor.js';
import type { ProcessGroup } from './processGroup.js';

/** DDP's default bucket size. */
export const BUCKET_BYTES = 25 * 2 ** 20;

interface Bucket {
  buffer: Tensor;
  /** Each gradient and its view in `buffer`; none when `buffer` is a large gradient itself. */
  slots: { grad: Tensor; view: Tensor }[];
}

export class GradientBuckets {
  readonly #group: ProcessGroup;
  readonly #buckets: Bucket[] = [];

  constructor(group: ProcessGroup, grads: readonly Tensor[], bucketBytes = BUCKET_BYTES) {
    this.#group = group;
    let members: Tensor[] = [];
    let elements = 0;
    const close = () => {
      if (members.length > 0) this.#buckets.push(makeBucket(members, elements));
      [members, elements] = [[], 0];
    };
    for (const grad of grads) {
      if (grad.numel * 4 >= bucketBytes) {
        this.#buckets.push({ buffer: grad, slots: [] });
        continue;
      }
      if (elements > 0 && (elements + grad.numel) * 4 > bucketBytes) close();
      members.push(grad);
      elements += grad.numel;
    }
    close();
  }

  /** Every rank's gradients become their sum over ranks. */
  sum(): void {
    for (const { buffer, slots } of this.#buckets) {
      for (const { grad, view } of slots) scale(grad, 1, { out: view });
      this.#group.allReduce(buffer, 'sum');
      for (const { grad, view } of slots) scale(view, 1, { out: grad });
    }
  }

  dispose(): void {
    for (const { buffer, slots } of this.#buckets) {
      if (slots.length === 0) continue; // a gradient of the task's, not ours
      for (const { view } of slots) view.dispose();
      buffer.dispose();
    }
  }
}

function makeBucket(grads: readonly Tensor[], elements: number): Bucket {
  const buffer = Tensor.empty([elements], { device: grads[0].device });
  let offset = 0;
  const slots = grads.map((grad) => {
    using flat = buffer.narrow(offset, offset + grad.numel);
    offset += grad.numel;
    return { grad, view: flat.reshape(grad.shape) };
  });
  return { buffer, slots };
}
