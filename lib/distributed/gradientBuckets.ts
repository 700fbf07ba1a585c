/**
 * Gradients summed over ranks in buckets, as PyTorch's DistributedDataParallel does. The
 * gradients are taken in reverse order of the parameters, the order a backward pass finishes
 * them, and small ones are copied into flat f32 buffers of about 25 MB; a gradient of a bucket's
 * size or more is a bucket of its own, summed where it lies, so the copies never cost more than
 * the small gradients' memory. As the backward pass reports gradients final ({@link ready}), each
 * bucket whose gradients all are starts its all-reduce at once and travels while the backward
 * computes on; {@link sum} starts the rest and waits for all of them.
 *
 * With `dtype: 'bf16'` (NCCL only) the buckets are bf16 and every gradient, large ones too, is
 * copied into one: half the bytes on the wire, each rank's contribution rounded to 8 bits before
 * the sum, the sum rounded again before it returns to the f32 gradient.
 */
import { ConfigError } from '../errors.js';
import { scale } from '../ops.js';
import { Tensor } from '../tensor.js';
import type { ProcessGroup, Work } from './processGroup.js';

/** What gradients travel as between ranks: f32 (the default) or bf16 (NCCL only). */
export type GradReduceDtype = 'f32' | 'bf16';

/** DDP's default bucket size. */
export const BUCKET_BYTES = 25 * 2 ** 20;

/** A gradient and the name its parameter is reported by. */
export interface NamedGradient {
  name: string;
  grad: Tensor;
}

interface Bucket {
  buffer: Tensor;
  /** Each gradient and its view in `buffer`; none when `buffer` is a large gradient itself. */
  slots: { grad: Tensor; view: Tensor }[];
  names: string[];
  /** The names not yet reported final in this step. */
  waiting: Set<string>;
  work?: Work;
}

export class GradientBuckets {
  readonly #group: ProcessGroup;
  readonly #buckets: Bucket[] = [];
  readonly #bucketOf = new Map<string, Bucket>();

  constructor(group: ProcessGroup, grads: readonly NamedGradient[], bucketBytes = BUCKET_BYTES, dtype: GradReduceDtype = 'f32') {
    if (dtype === 'bf16' && group.backend !== 'nccl') {
      throw new ConfigError(`gradients can travel in bf16 over NCCL only, not over ${group.backend}: use --grad-reduce-dtype f32`);
    }
    this.#group = group;
    const bytes = dtype === 'bf16' ? 2 : 4;
    let members: NamedGradient[] = [];
    let elements = 0;
    const close = () => {
      if (members.length > 0) this.#add(makeBucket(members, elements, dtype));
      [members, elements] = [[], 0];
    };
    for (const member of [...grads].reverse()) {
      const { grad } = member;
      if (grad.numel * bytes >= bucketBytes) {
        close(); // buckets stay in backward order: each can start as soon as the backward passes it
        // An f32 gradient is summed where it lies; in bf16 it needs a buffer of its own.
        this.#add(grad.dtype === dtype ? { buffer: grad, slots: [], names: [member.name] } : makeBucket([member], grad.numel, dtype));
        continue;
      }
      if (elements > 0 && (elements + grad.numel) * bytes > bucketBytes) close();
      members.push(member);
      elements += grad.numel;
    }
    close();
  }

  /** How many buckets the gradients fill. */
  get size(): number {
    return this.#buckets.length;
  }

  /** How many buckets have started their all-reduce in this step. */
  get started(): number {
    return this.#buckets.filter((b) => b.work).length;
  }

  /**
   * The named gradients are final for this step: no op will add to them before {@link sum}.
   * Every bucket they complete starts its all-reduce. Every rank must report in the same order.
   */
  ready(names: Iterable<string>): void {
    for (const name of names) {
      const bucket = this.#bucketOf.get(name);
      if (!bucket) throw new RangeError(`no gradient '${name}' is summed over the ranks`);
      if (!bucket.waiting.delete(name)) throw new Error(`the gradient '${name}' was reported final twice in one step`);
      if (bucket.waiting.size === 0) this.#start(bucket);
    }
  }

  /** Every rank's gradients become their sum over ranks; the next step's reports begin afresh. */
  sum(): void {
    for (const bucket of this.#buckets) if (!bucket.work) this.#start(bucket);
    for (const bucket of this.#buckets) {
      bucket.work!.wait();
      bucket.work = undefined;
      for (const { grad, view } of bucket.slots) scale(view, 1, { out: grad });
      bucket.waiting = new Set(bucket.names);
    }
  }

  dispose(): void {
    for (const bucket of this.#buckets) {
      // A step that failed half-way may leave a bucket travelling: it must land before its buffer
      // goes. Its own error, if any, is not the one the caller is handling.
      try {
        bucket.work?.wait();
      } catch {}
      if (bucket.slots.length === 0) continue; // a gradient of the task's, not ours
      for (const { view } of bucket.slots) view.dispose();
      bucket.buffer.dispose();
    }
  }

  #add(members: Pick<Bucket, 'buffer' | 'slots' | 'names'>): void {
    const bucket: Bucket = { ...members, waiting: new Set(members.names) };
    for (const name of bucket.names) this.#bucketOf.set(name, bucket);
    this.#buckets.push(bucket);
  }

  #start(bucket: Bucket): void {
    for (const { grad, view } of bucket.slots) scale(grad, 1, { out: view });
    bucket.work = this.#group.allReduceAsync(bucket.buffer, 'sum');
  }
}

function makeBucket(members: readonly NamedGradient[], elements: number, dtype: GradReduceDtype): Pick<Bucket, 'buffer' | 'slots' | 'names'> {
  const buffer = Tensor.empty([elements], { dtype, device: members[0].grad.device });
  let offset = 0;
  const slots = members.map(({ grad }) => {
    using flat = buffer.narrow(offset, offset + grad.numel);
    offset += grad.numel;
    return { grad, view: flat.reshape(grad.shape) };
  });
  return { buffer, slots, names: members.map((m) => m.name) };
}
