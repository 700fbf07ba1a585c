/**
 * ZeRO-1: AdamW whose state (f32 moments, and f32 master weights of bf16 parameters) is split
 * across the ranks. Per parameter dtype, the parameters are laid end to end in one flat buffer
 * padded to a multiple of the world size; rank r owns the r-th equal shard of it. A step
 * reduce-scatters the gradients (each rank gets the summed gradient of its shard), steps its
 * shard, and all-gathers the parameters. The state per rank is 12/N bytes per parameter instead
 * of 12, and the saved state is the same named tensors as {@link AdamW}'s, so a checkpoint
 * resumes with any number of ranks. The flat buffers are copies of the task's parameters and
 * gradients (4 bytes per parameter for the gradients, the parameter's size for the values): the
 * parameters do not live in them yet, so the whole saving of ZeRO-1 is not reached.
 */
import { readSafetensors } from '../io/safetensors.js';
import { stateTensor } from '../io/stateDict.js';
import type { StoredTensor } from '../io/storedTensor.js';
import type { DType } from '../native.js';
import { scale } from '../ops.js';
import { type AdamwHyper, adamw, globalGradNorm } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import type { OptimizerState, TrainOptimizer } from '../train/optimizer.js';
import type { TrainableParameter } from '../train/task.js';
import type { ProcessGroup } from './processGroup.js';

export class ShardedAdamW implements TrainOptimizer {
  readonly #partitions: Partition[];

  constructor(params: TrainableParameter[], group: ProcessGroup) {
    const byDtype = new Map<DType, TrainableParameter[]>();
    for (const p of params) byDtype.set(p.value.dtype, [...(byDtype.get(p.value.dtype) ?? []), p]);
    this.#partitions = [...byDtype.values()].map((members) => new Partition(members, group));
  }

  /** Nothing: the reduce-scatter waits for the whole backward (it does not overlap it yet). */
  gradientsReady(): void {}

  reduceGradients(): void {
    for (const p of this.#partitions) p.reduceScatter();
  }

  gradNorm(): number {
    const local = this.#partitions.reduce((sum, p) => sum + globalGradNorm([p.shardGrad]) ** 2, 0);
    return Math.sqrt(this.#partitions[0]?.group.sum([local])[0] ?? 0);
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

/** The parameters of one dtype, flat, and this rank's shard of their optimizer state. */
class Partition {
  readonly group: ProcessGroup;
  readonly shardGrad: Tensor;
  /** Every parameter, where it lies in the flat buffers, and its views of them. */
  readonly #views: { param: TrainableParameter; start: number; end: number; value: Tensor; grad: Tensor }[];
  readonly #flatValue: Tensor;
  readonly #flatGrad: Tensor;
  readonly #shardValue: Tensor;
  readonly #m: Tensor;
  readonly #v: Tensor;
  readonly #master?: Tensor;
  readonly #shard: number;

  constructor(params: TrainableParameter[], group: ProcessGroup) {
    this.group = group;
    const { device, dtype } = params[0].value;
    const total = params.reduce((n, p) => n + p.value.numel, 0);
    this.#shard = Math.ceil(total / group.worldSize);
    const padded = this.#shard * group.worldSize;
    this.#flatValue = Tensor.zeros([padded], { dtype, device });
    this.#flatGrad = Tensor.zeros([padded], { device });
    let offset = 0;
    this.#views = params.map((param) => {
      const [start, end] = [offset, offset + param.value.numel];
      offset = end;
      using value = this.#flatValue.narrow(start, end);
      using grad = this.#flatGrad.narrow(start, end);
      return { param, start, end, value: value.reshape(param.value.shape), grad: grad.reshape(param.value.shape) };
    });
    this.#shardValue = Tensor.empty([this.#shard], { dtype, device });
    this.#takeParameters();
    this.shardGrad = Tensor.zeros([this.#shard], { device });
    this.#m = Tensor.zeros([this.#shard], { device });
    this.#v = Tensor.zeros([this.#shard], { device });
    if (dtype !== 'f32') {
      this.#master = Tensor.empty([this.#shard], { device });
      scale(this.#shardValue, 1, { out: this.#master });
    }
  }

  reduceScatter(): void {
    for (const { param, grad } of this.#views) scale(param.grad, 1, { out: grad });
    this.group.reduceScatter(this.#flatGrad, this.shardGrad, 'sum');
  }

  step(hyper: AdamwHyper): void {
    adamw(this.#shardValue, this.shardGrad, { m: this.#m, v: this.#v, master: this.#master }, hyper);
    this.group.allGather(this.#shardValue, this.#flatValue);
    for (const { param, value } of this.#views) scale(value, 1, { out: param.value });
  }

  /** The full moments (and master weights) gathered from every rank, as per-parameter views. */
  gatherState(): OptimizerState {
    const owned: Tensor[] = [];
    const tensors = new Map<string, Tensor>();
    for (const [key, shard] of this.#stateShards()) {
      const full = Tensor.empty([this.#shard * this.group.worldSize], { device: shard.device });
      this.group.allGather(shard, full);
      owned.push(full);
      for (const { param, start, end } of this.#views) {
        using flat = full.narrow(start, end);
        const view = flat.reshape(param.value.shape);
        owned.push(view);
        tensors.set(`${key}.${param.name}`, view);
      }
    }
    return { tensors, dispose: () => owned.forEach((t) => t.dispose()) };
  }

  /** This rank's shard of the saved state, and of the weights the task has just loaded. */
  load(stored: ReadonlyMap<string, StoredTensor>, path: string): void {
    const device = this.#m.device;
    for (const [key, shard] of this.#stateShards()) {
      using full = Tensor.zeros([this.#shard * this.group.worldSize], { device });
      for (const { param, start, end } of this.#views) {
        using loaded = stateTensor(stored, `${key}.${param.name}`, param.value.shape, path, { device });
        using flat = full.narrow(start, end);
        using view = flat.reshape(param.value.shape);
        scale(loaded, 1, { out: view });
      }
      using mine = this.#mine(full);
      scale(mine, 1, { out: shard });
    }
    this.#takeParameters();
  }

  dispose(): void {
    for (const { value, grad } of this.#views) [value, grad].forEach((t) => t.dispose());
    for (const t of [this.#flatValue, this.#flatGrad, this.#shardValue, this.shardGrad, this.#m, this.#v, this.#master]) t?.dispose();
  }

  /** The parameters into the flat buffer, and this rank's part of it into its shard. */
  #takeParameters(): void {
    for (const { param, value } of this.#views) scale(param.value, 1, { out: value });
    using mine = this.#mine(this.#flatValue);
    scale(mine, 1, { out: this.#shardValue });
  }

  /** This rank's shard of a flat buffer, as a view. */
  #mine(flat: Tensor): Tensor {
    return flat.narrow(this.group.rank * this.#shard, (this.group.rank + 1) * this.#shard);
  }

  /** The state this rank keeps, by the name prefix it is saved under. */
  #stateShards(): [string, Tensor][] {
    return [['m', this.#m], ['v', this.#v], ...(this.#master ? [['master', this.#master] as [string, Tensor]] : [])];
  }
}
