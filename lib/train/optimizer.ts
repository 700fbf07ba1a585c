/**
 * AdamW over a stage's parameters with the fused op: f32 moments for every parameter and an f32
 * master copy of each parameter that is not f32 (bf16 weights on the GPU). In a data-parallel run
 * the gradients are summed over ranks in buckets, started during the backward pass as it reports
 * them final and finished before the step, so every rank steps the same way. Its state is named
 * tensors (`m.<param>`, `v.<param>`, `master.<param>`) in one safetensors file, the same for any
 * number of ranks, for exact resume.
 */
import { readSafetensors } from '../io/safetensors.js';
import { stateTensor } from '../io/stateDict.js';
import { type AdamwHyper, type AdamwState, adamw, globalGradNorm } from '../qwen3Ops.js';
import { scale } from '../ops.js';
import { Tensor } from '../tensor.js';
import type { ProcessGroup } from '../distributed/processGroup.js';
import { type GradReduceDtype, GradientBuckets } from '../distributed/gradientBuckets.js';
import type { TrainableParameter } from './task.js';

/** What the trainer needs of an optimizer; {@link AdamW} and the ZeRO-1 `ShardedAdamW` are two. */
export interface TrainOptimizer {
  /** The backward pass's report that these gradients (by parameter name) are final for the step: their sum over the ranks may start. */
  gradientsReady(names: readonly string[]): void;
  /** Sums the accumulated gradients over the ranks (nothing in a single process). Every rank calls it. */
  reduceGradients(): void;
  /** √Σ‖grad‖² over every parameter, after {@link reduceGradients} and before any scaling. */
  gradNorm(): number;
  /** One step on every parameter; `hyper.gradScale` multiplies the gradients first. */
  step(hyper: AdamwHyper): void;
  /** The whole state as named tensors, for a checkpoint; every rank calls it (a sharded optimizer gathers). */
  stateTensors(): OptimizerState;
  /** Restores what {@link stateTensors} saved (every name and shape checked). */
  load(path: string): Promise<void>;
  dispose(): void;
}

/** Named tensors of an optimizer's state; `dispose` frees whatever was gathered for them. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  dispose(): void;
}

export class AdamW implements TrainOptimizer {
  readonly #params: TrainableParameter[];
  readonly #states: AdamwState[];
  readonly #buckets?: GradientBuckets;

  constructor(params: TrainableParameter[], group?: ProcessGroup, options: { bucketBytes?: number; gradReduceDtype?: GradReduceDtype } = {}) {
    this.#params = params;
    this.#states = params.map(({ value }) => {
      const device = value.device;
      const master = value.dtype === 'f32' ? undefined : Tensor.empty(value.shape, { device });
      if (master) scale(value, 1, { out: master });
      return { m: Tensor.zeros(value.shape, { device }), v: Tensor.zeros(value.shape, { device }), master };
    });
    if (group) this.#buckets = new GradientBuckets(group, params, options.bucketBytes, options.gradReduceDtype);
  }

  gradientsReady(names: readonly string[]): void {
    this.#buckets?.ready(names);
  }

  reduceGradients(): void {
    this.#buckets?.sum();
  }

  gradNorm(): number {
    return globalGradNorm(this.#params.map((p) => p.grad));
  }

  step(hyper: AdamwHyper): void {
    this.#params.forEach(({ value, grad, lrScale = 1 }, i) => adamw(value, grad, this.#states[i], lrScale === 1 ? hyper : { ...hyper, lr: hyper.lr * lrScale }));
  }

  stateTensors(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.#params.forEach(({ name }, i) => {
      const { m, v, master } = this.#states[i];
      tensors.set(`m.${name}`, m);
      tensors.set(`v.${name}`, v);
      if (master) tensors.set(`master.${name}`, master);
    });
    return { tensors, dispose: () => {} };
  }

  async load(path: string): Promise<void> {
    const { tensors } = await readSafetensors(path);
    this.#params.forEach(({ name, value }, i) => {
      const state = this.#states[i];
      for (const [key, target] of [['m', state.m], ['v', state.v], ['master', state.master]] as const) {
        if (!target) continue;
        using loaded = stateTensor(tensors, `${key}.${name}`, value.shape, path, { device: value.device });
        scale(loaded, 1, { out: target });
      }
    });
  }

  dispose(): void {
    for (const { m, v, master } of this.#states) for (const t of [m, v, master]) t?.dispose();
    this.#buckets?.dispose();
  }
}
