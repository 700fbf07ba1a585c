/**
 * ZeRO-1: AdamW whose state (f32 moments, and f32 master weights of bf16 parameters) is split
 * across the ranks. Per parameter dtype, the parameters are laid end to end in one flat buffer
 * padded to a multiple of the world size; rank r owns the r-th equal shard of it. A step
 * reduce-scatters the gradients (each rank gets the summed gradient of its shard), steps its
 * shard, and all-gathers the parameters. The state per rank is 12/N bytes per parameter instead
 * of 12, and the saved state is the same named tensors as {@link AdamW}'s, so a checkpoint
 * resumes with any number of ranks.
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
  readonly #params: TrainableParameter[];
  /** Every parameter's views into the flat buffers. */
  readonly #views: { param: TrainableParameter; value: Tensor; grad: Tensor }[];
  readonly #flatValue: Tensor;
  readonly #flatGrad: Tensor;
  readonly #shardValue: Tensor;
  readonly #m: Tensor;
  readonly #v: Tensor;
  readonly #master?: Tensor;
  readonly #shard: number;

  constructor(params: TrainableParameter[], group: ProcessGroup) {
    this.group = group;
    this.#params = params;
    const { device, dtype } = params[0].value;
    const total = params.reduce((n, p) => n + p.value.numel, 0);
    this.#shard = Math.ceil(total / group.worldSize);
    const padded = this.#shard * group.worldSize;
    this.#flatValue = Tensor.zeros([padded], { dtype, device });
    this.#flatGrad = Tensor.zeros([padded], { device });
    let offset = 0;
    this.#views = params.map((param) => {
      const n = param.value.numel;
      using value = this.#flatValue.narrow(offset, offset + n);
      using grad = this.#flatGrad.narrow(offset, offset + n);
      offset += n;
      return { param, value: value.reshape(param.value.shape), grad: grad.reshape(param.value.shape) };
    });
    for (const { param, value } of this.#views) scale(param.value, 1, { out: value });
    using mine = this.#flatValue.narrow(group.rank * this.#shard, (group.rank + 1) * this.#shard);
    this.#shardValue = Tensor.empty([this.#shard], { dtype, device });
    scale(mine, 1, { out: this.#shardValue });
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
    const kinds = [['m', this.#m], ['v', this.#v], ...(this.#master ? [['master', this.#master] as const] : [])] as const;
    const fulls: Tensor[] = [];
    const tensors = new Map<string, Tensor>();
    for (const [key, shard] of kinds) {
      const full = Tensor.empty([this.#shard * this.group.worldSize], { device: shard.device });
      this.group.allGather(shard, full);
      fulls.push(full);
      this.#eachRange((param, start, end) => {
        using flat = full.narrow(start, end);
        const view = flat.reshape(param.value.shape);
        fulls.push(view);
        tensors.set(`${key}.${param.name}`, view);
      });
    }
    return { tensors, dispose: () => fulls.forEach((t) => t.dispose()) };
  }

  load(stored: ReadonlyMap<string, StoredTensor>, path: string): void {
    const device = this.#m.device;
    const kinds = [['m', this.#m], ['v', this.#v], ...(this.#master ? [['master', this.#master] as const] : [])] as const;
    for (const [key, shard] of kinds) {
      using full = Tensor.zeros([this.#shard * this.group.worldSize], { device });
      this.#eachRange((param, start, end) => {
        using loaded = stateTensor(stored, `${key}.${param.name}`, param.value.shape, path, { device });
        using flat = full.narrow(start, end);
        using view = flat.reshape(param.value.shape);
        scale(loaded, 1, { out: view });
      });
      using mine = full.narrow(this.group.rank * this.#shard, (this.group.rank + 1) * this.#shard);
      scale(mine, 1, { out: shard });
    }
    // The weights were loaded into the parameters by the task: take this rank's shard of them.
    for (const { param, value } of this.#views) scale(param.value, 1, { out: value });
    using mine = this.#flatValue.narrow(this.group.rank * this.#shard, (this.group.rank + 1) * this.#shard);
    scale(mine, 1, { out: this.#shardValue });
  }

  #eachRange(visit: (param: TrainableParameter, start: number, end: number) => void): void {
    let offset = 0;
    for (const param of this.#params) {
      visit(param, offset, offset + param.value.numel);
      offset += param.value.numel;
    }
  }

  dispose(): void {
    for (const { value, grad } of this.#views) [value, grad].forEach((t) => t.dispose());
    for (const t of [this.#flatValue, this.#flatGrad, this.#shardValue, this.shardGrad, this.#m, this.#v, this.#master]) t?.dispose();
  }
}
