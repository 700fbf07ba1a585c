/**
 * AdamW over a stage's parameters with the fused op: f32 moments for every parameter and an f32
 * master copy of each parameter that is not f32 (bf16 weights on the GPU). Its state saves to
 * and loads from one safetensors file, for exact resume.
 */
import { readSafetensors } from '../io/safetensors.js';
import { stateTensor, writeStateDict } from '../io/stateDict.js';
import { type AdamwHyper, type AdamwState, adamw, globalGradNorm } from '../qwen3Ops.js';
import { scale } from '../ops.js';
import { Tensor } from '../tensor.js';
import type { TrainableParameter } from './task.js';

export class AdamW {
  readonly #params: TrainableParameter[];
  readonly #states: AdamwState[];

  constructor(params: TrainableParameter[]) {
    this.#params = params;
    this.#states = params.map(({ value }) => {
      const device = value.device;
      const master = value.dtype === 'f32' ? undefined : Tensor.empty(value.shape, { device });
      if (master) scale(value, 1, { out: master });
      return { m: Tensor.zeros(value.shape, { device }), v: Tensor.zeros(value.shape, { device }), master };
    });
  }

  /** √Σ‖grad‖² over every parameter (before any scaling). */
  gradNorm(): number {
    return globalGradNorm(this.#params.map((p) => p.grad));
  }

  /** One step on every parameter; `hyper.gradScale` multiplies the accumulated gradients first. */
  step(hyper: AdamwHyper): void {
    this.#params.forEach(({ value, grad }, i) => adamw(value, grad, this.#states[i], hyper));
  }

  async save(path: string): Promise<void> {
    const tensors = new Map<string, Tensor>();
    this.#params.forEach(({ name }, i) => {
      const { m, v, master } = this.#states[i];
      tensors.set(`m.${name}`, m);
      tensors.set(`v.${name}`, v);
      if (master) tensors.set(`master.${name}`, master);
    });
    await writeStateDict(path, tensors);
  }

  /** Restores the moments and master weights written by {@link save} (every name and shape checked). */
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
  }
}
