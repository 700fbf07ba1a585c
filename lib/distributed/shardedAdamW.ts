/**
 * ZeRO-1: AdamW whose state (f32 moments, and f32 master weights of bf16 parameters) is split
 * across the ranks. The parameters lie end to end in flat buffers: the task's own where it has
 * them (`TrainTask.flatParameters`, the LLM's `ParameterSet`), else copies made here, one per
 * dtype. Of a buffer of T elements, rank r owns the r-th of N chunks of ⌊T/N⌋; the last T mod N
 * elements (fewer than N) are stepped by every rank alike. A step reduce-scatters the gradients
 * (each rank gets the summed gradient of its chunk), steps its chunk, and all-gathers the
 * parameters, all in place in the buffers. Per parameter a rank then holds the weights and the
 * f32 gradient whole and 12/N bytes of state (8/N for f32 weights): 6 + 12/N bytes for bf16
 * weights. The saved state is the same named tensors as {@link AdamW}'s, so a checkpoint resumes
 * with any number of ranks.
 */
import { readSafetensors } from '../io/safetensors.js';
import { stateTensor } from '../io/stateDict.js';
import type { StoredTensor } from '../io/storedTensor.js';
import { scale } from '../ops.js';
import { type AdamwHyper, type AdamwState, adamw, globalGradNorm } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { OptimizerState, TrainOptimizer } from '../train/optimizer.js';
import type { FlatParameters, TrainableParameter } from '../train/task.js';
import type { ProcessGroup } from './processGroup.js';

export class ShardedAdamW implements TrainOptimizer {
  readonly #group: ProcessGroup;
  readonly #partitions: Partition[];

  /** `flat`: buffers the task's parameters are views of (their names must be in `params`); the other parameters are copied into buffers of their own. */
  constructor(params: TrainableParameter[], group: ProcessGroup, flat: readonly FlatParameters[] = []) {
    this.#group = group;
    const loose = new Map(params.map((p) => [p.name, p]));
    this.#partitions = flat.map((buffers) => {
      const members = buffers.names.map((name) => {
        const param = loose.get(name);
        if (!param) throw new RangeError(`the flat parameter '${name}' is not one of the trained parameters`);
        loose.delete(name);
        return param;
      });
      return new Partition(group, members, buffers);
    });
    // One buffer per dtype and learning rate.
    const byKind = new Map<string, TrainableParameter[]>();
    for (const p of loose.values()) {
      const kind = `${p.value.dtype} ${p.lrScale ?? 1}`;
      byKind.set(kind, [...(byKind.get(kind) ?? []), p]);
    }
    for (const members of byKind.values()) this.#partitions.push(new Partition(group, members));
  }

  /** Nothing: the reduce-scatter waits for the whole backward (it does not overlap it yet). */
  gradientsReady(): void {}

  reduceGradients(): void {
    for (const p of this.#partitions) p.reduceScatter();
  }

  gradNorm(): number {
    const squares = this.#partitions.map((p) => p.gradSquares());
    const chunks = this.#group.sum([squares.reduce((sum, s) => sum + s.chunk, 0)])[0];
    return Math.sqrt(chunks + squares.reduce((sum, s) => sum + s.tail, 0));
  }

  step(hyper: AdamwHyper): void {
    for (const p of this.#partitions) p.step(hyper);
  }

  stateTensors(): OptimizerState {
    const gathered = this.#partitions.map((p) => p.gatherState());
    return {
      tensors: new Map(gathered.flatMap((g) => [...g.tensors])),
      dispose: () => gathered.forEach((g) => g.dispose()),
    };
  }

  async load(path: string): Promise<void> {
    const { tensors } = await readSafetensors(path);
    for (const p of this.#partitions) p.load(tensors, path);
  }

  dispose(): void {
    for (const p of this.#partitions) p.dispose();
  }
}

/** A stretch of a flat buffer that one AdamW call steps: its weights, gradient and state. */
interface Region {
  /** Where it starts in the buffer. */
  start: number;
  value: Tensor;
  grad: Tensor;
  state: AdamwState;
}

/** The parameters of one flat buffer, and this rank's share of their optimizer state. */
class Partition {
  readonly #group: ProcessGroup;
  /** Every parameter, where it lies in the buffers, and (when the buffers are copies) its views of them. */
  readonly #members: { param: TrainableParameter; start: number; end: number; views?: { value: Tensor; grad: Tensor } }[];
  readonly #values: Tensor;
  readonly #grads: Tensor;
  /** Whether the buffers are ours (copies of the parameters) rather than the task's. */
  readonly #copies: boolean;
  /** Elements per rank in the chunked body; the tail follows the N chunks. */
  readonly #chunk: number;
  /** This rank's chunk and the tail, when not empty. */
  readonly #mine?: Region;
  readonly #tail?: Region;
  /** Views for the collectives: the N chunks of values and of gradients. */
  readonly #body?: { value: Tensor; grad: Tensor };

  constructor(group: ProcessGroup, params: TrainableParameter[], buffers?: Omit<FlatParameters, 'names'>) {
    this.#group = group;
    const { device, dtype } = params[0].value;
    const total = params.reduce((n, p) => n + p.value.numel, 0);
    this.#copies = !buffers;
    this.#values = buffers?.values ?? Tensor.empty([total], { dtype, device });
    this.#grads = buffers?.grads ?? Tensor.zeros([total], { device });
    if (this.#values.numel !== total || this.#grads.numel !== total || this.#values.dtype !== dtype || this.#grads.dtype !== 'f32') {
      throw new RangeError(`flat buffers ${this.#values.describe()} and ${this.#grads.describe()} do not hold the ${total} elements of their ${params.length} parameters (${dtype}, gradients f32)`);
    }
    let offset = 0;
    this.#members = params.map((param) => {
      const [start, end] = [offset, offset + param.value.numel];
      offset = end;
      return { param, start, end, views: this.#copies ? { value: this.#view(this.#values, param, start, end), grad: this.#view(this.#grads, param, start, end) } : undefined };
    });
    if (this.#copies) this.#takeParameters();

    const world = group.worldSize;
    this.#chunk = Math.floor(total / world);
    const region = (start: number, end: number): Region | undefined => {
      if (start === end) return undefined;
      const value = this.#values.narrow(start, end);
      const master = dtype === 'f32' ? undefined : Tensor.empty([end - start], { device });
      if (master) scale(value, 1, { out: master });
      return { start, value, grad: this.#grads.narrow(start, end), state: { m: Tensor.zeros([end - start], { device }), v: Tensor.zeros([end - start], { device }), master } };
    };
    const body = this.#chunk * world;
    this.#mine = region(group.rank * this.#chunk, (group.rank + 1) * this.#chunk);
    this.#tail = region(body, total);
    if (this.#chunk > 0) this.#body = { value: this.#values.narrow(0, body), grad: this.#grads.narrow(0, body) };
  }

  /** This rank's chunk of the gradients becomes their sum over ranks; the tail too, on every rank. */
  reduceScatter(): void {
    if (this.#copies) for (const { param, views } of this.#members) scale(param.grad, 1, { out: views!.grad });
    if (this.#body) this.#group.reduceScatter(this.#body.grad, this.#mine!.grad, 'sum');
    if (this.#tail) this.#group.allReduce(this.#tail.grad, 'sum');
  }

  /** Σ grad² over this rank's chunk, and over the tail (the same on every rank). */
  gradSquares(): { chunk: number; tail: number } {
    const squares = (region?: Region) => (region ? globalGradNorm([region.grad]) ** 2 : 0);
    return { chunk: squares(this.#mine), tail: squares(this.#tail) };
  }

  step(hyper: AdamwHyper): void {
    const lrScale = this.#members[0].param.lrScale ?? 1; // the same for every member (see the constructor)
    for (const region of [this.#mine, this.#tail]) if (region) adamw(region.value, region.grad, region.state, { ...hyper, lr: hyper.lr * lrScale });
    if (this.#body) this.#group.allGather(this.#mine!.value, this.#body.value);
    if (this.#copies) for (const { param, views } of this.#members) scale(views!.value, 1, { out: param.value });
  }

  /** The full moments (and master weights) gathered from every rank, as per-parameter views. */
  gatherState(): OptimizerState {
    const owned: Tensor[] = [];
    const tensors = new Map<string, Tensor>();
    for (const key of this.#stateKeys()) {
      const full = Tensor.empty([this.#values.numel], { device: this.#values.device });
      owned.push(full);
      if (this.#body) {
        using body = full.narrow(0, this.#chunk * this.#group.worldSize);
        this.#group.allGather(this.#mine!.state[key]!, body);
      }
      if (this.#tail) {
        using tail = full.narrow(this.#chunk * this.#group.worldSize, full.numel);
        scale(this.#tail.state[key]!, 1, { out: tail });
      }
      for (const { param, start, end } of this.#members) {
        const view = this.#view(full, param, start, end);
        owned.push(view);
        tensors.set(`${key}.${param.name}`, view);
      }
    }
    return { tensors, dispose: () => owned.forEach((t) => t.dispose()) };
  }

  /** This rank's share of the saved state; and, into our copies, the weights the task has just loaded. */
  load(stored: ReadonlyMap<string, StoredTensor>, path: string): void {
    const device = this.#values.device;
    for (const key of this.#stateKeys()) {
      using full = Tensor.empty([this.#values.numel], { device });
      for (const { param, start, end } of this.#members) {
        using loaded = stateTensor(stored, `${key}.${param.name}`, param.value.shape, path, { device });
        using view = this.#view(full, param, start, end);
        scale(loaded, 1, { out: view });
      }
      for (const region of [this.#mine, this.#tail]) {
        if (!region) continue;
        using part = full.narrow(region.start, region.start + region.value.numel);
        scale(part, 1, { out: region.state[key]! });
      }
    }
    if (this.#copies) this.#takeParameters();
  }

  dispose(): void {
    for (const { views } of this.#members) if (views) [views.value, views.grad].forEach((t) => t.dispose());
    for (const region of [this.#mine, this.#tail]) {
      if (!region) continue;
      for (const t of [region.value, region.grad, region.state.m, region.state.v, region.state.master]) t?.dispose();
    }
    if (this.#body) [this.#body.value, this.#body.grad].forEach((t) => t.dispose());
    if (this.#copies) [this.#values, this.#grads].forEach((t) => t.dispose());
  }

  /** The parameters into our copy of them. */
  #takeParameters(): void {
    for (const { param, views } of this.#members) scale(param.value, 1, { out: views!.value });
  }

  /** Elements `start` to `end` of a flat buffer, shaped as `param`. */
  #view(flat: Tensor, param: TrainableParameter, start: number, end: number): Tensor {
    using part = flat.narrow(start, end);
    return part.reshape(param.value.shape);
  }

  /** The state kept per region, by the name prefix it is saved under. */
  #stateKeys(): ('m' | 'v' | 'master')[] {
    return this.#values.dtype === 'f32' ? ['m', 'v'] : ['m', 'v', 'master'];
  }
}
