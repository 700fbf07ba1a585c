/**
 * Stage 0: pretraining the MoE compressor on slide labels, as TC-SSA trains it by
 * default: each slide's K slot tokens are averaged and classified by TC-SSA's head (LayerNorm →
 * MLP); the loss per slide is the cross-entropy plus `auxWeight` × its routing losses
 * (balance + entropy + z-loss, lib/train/routerLosses.ts), summed over slides. The compressor
 * runs in training mode: gate noise and expert dropout, seeded by the step. The seed's recipe
 * (a linear head, the Switch term over the whole batch) stays available as options.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadCompressor, saveCompressor } from '../compressorState.js';
import type { LoadedSample } from '../data/loader.js';
import { FormatError } from '../errors.js';
import { parseJson } from '../io/jsonText.js';
import { readStateDict, stateTensor, writeStateDict } from '../io/stateDict.js';
import type { MoeCompressor } from '../moe.js';
import type { Device } from '../native.js';
import { matmul, runOp, scale } from '../ops.js';
import { fill } from '../qwen3Ops.js';
import { Tensor } from '../tensor.js';
import { ClassifierHead, type HeadKind, crossEntropyOnHost, headShapes } from './classifierHead.js';
import { TC_SSA_ROUTER_LOSS, routerLosses } from './routerLosses.js';
import type { StepContext, TrainTask, TrainableParameter } from './task.js';

export const COMPRESSOR_FILE = 'compressor.safetensors';
export const CLASSIFIER_FILE = 'classifier.safetensors';
export const CLASSES_FILE = 'classes.json';

/** A batch of labelled slides. */
export interface SlideLabelBatch {
  features: Float32Array;
  /** (S + 1): slide s owns feature rows offsets[s] … offsets[s+1]. */
  offsets: Int32Array;
  /** (S) class indices. */
  labels: Int32Array;
}

/** The data loader's `collate` for stage 0: the class of each sample's `label` among `classes`. */
export function slideLabelCollate(classes: readonly string[]): (loaded: LoadedSample[]) => SlideLabelBatch {
  return (loaded) => {
    const offsets = new Int32Array(loaded.length + 1);
    loaded.forEach(({ slides }, s) => (offsets[s + 1] = offsets[s] + slides.reduce((n, f) => n + f.patches, 0)));
    const features = new Float32Array(offsets[loaded.length] * 1024);
    let row = 0;
    for (const { slides } of loaded) for (const slide of slides) {
      features.set(slide.features.subarray(0, slide.patches * 1024), row * 1024);
      row += slide.patches;
    }
    const labels = Int32Array.from(loaded, ({ sample }) => {
      const index = classes.indexOf(sample.label ?? '');
      if (index < 0) throw new FormatError(`${sample.origin.file}:${sample.origin.row}: label ${JSON.stringify(sample.label)} is not one of the classes (${classes.join(', ')})`);
      return index;
    });
    return { features, offsets, labels };
  };
}

export interface CompressorTaskOptions {
  /**
   * `per-slide` (default, TC-SSA's): each slide's balance, entropy and z-loss terms;
   * `batch-switch` (the seed's): the Switch term alone over the whole batch, with f summing to 1.
   */
  routerLoss?: 'per-slide' | 'batch-switch';
  /** Weight of a slide's routing loss beside its cross-entropy. Default 0.1 (TC-SSA's `--aux_loss_weight`) per slide, 0.01 (Switch Transformer's) for `batch-switch`. */
  auxWeight?: number;
  /** The classifier head: `mlp` (default, TC-SSA's) or `linear` (the seed's). */
  head?: HeadKind;
  /** Held-out batches for {@link CompressorClassifierTask.evaluate}: accuracy of the head. */
  evaluation?: () => AsyncIterable<SlideLabelBatch>;
}

export class CompressorClassifierTask implements TrainTask<SlideLabelBatch> {
  readonly countUnit = 'slides';
  readonly compressor: MoeCompressor;
  readonly classes: readonly string[];
  readonly head: ClassifierHead;
  readonly routerLoss: 'per-slide' | 'batch-switch';
  readonly auxWeight: number;
  readonly #grads: Map<string, Tensor>;
  readonly #evaluation?: () => AsyncIterable<SlideLabelBatch>;

  constructor(compressor: MoeCompressor, classes: readonly string[], options: CompressorTaskOptions & { seed?: number } = {}) {
    if (classes.length < 2) throw new RangeError(`stage 0 needs at least 2 classes, got ${classes.length}`);
    this.compressor = compressor;
    this.classes = classes;
    const device = compressor.params.get('gate.weight')!.device;
    this.head = new ClassifierHead(options.head ?? 'mlp', compressor.width, classes.length, { seed: options.seed, device });
    this.routerLoss = options.routerLoss ?? 'per-slide';
    this.auxWeight = options.auxWeight ?? (this.routerLoss === 'per-slide' ? 0.1 : 0.01);
    this.#grads = new Map([...compressor.params].map(([name, p]) => [name, Tensor.zeros(p.shape, { device })]));
    this.#evaluation = options.evaluation;
  }

  parameters(): TrainableParameter[] {
    return [
      ...[...this.compressor.params].map(([name, value]) => ({ name: `compressor.${name}`, value, grad: this.#grads.get(name)! })),
      ...[...this.head.params].map(([name, value]) => ({ name: `classifier.${name}`, value, grad: this.head.grads.get(name)! })),
    ];
  }

  zeroGradients(): void {
    for (const g of this.#grads.values()) fill(g);
    this.head.zeroGradients();
  }

  async forwardBackward(batch: SlideLabelBatch, context: StepContext): Promise<{ lossSum: number; count: number }> {
    const slides = batch.labels.length;
    const device = this.#device;
    using x = this.#features(batch);
    const seed = (context.seed * 1_000_003 + context.step * 1009 + context.micro + (context.rank ?? 0) * 7_919_113) % 2 ** 31;
    const { out, auxLoss, saved } = this.compressor.forward(x, batch.offsets, { training: true, seed });
    using slots = out;
    using pooled = this.#pool(slots);
    const head = this.head.forward(pooled, { training: true, seed: seed + 1 });
    const ce = crossEntropyOnHost(head.logits.toFloat32(), batch.labels, this.classes.length);
    head.logits.dispose();
    using dLogits = Tensor.from(ce.dLogits, [slides, this.classes.length], { device });
    using dPooled = this.head.backward(head.saved, dLogits);
    using dSlots = this.#unpool(dPooled, slots.shape);
    let routing: number;
    let dGate: Tensor | undefined;
    if (this.routerLoss === 'per-slide') {
      const { terms, dLogits: dRouting } = routerLosses(
        { probs: saved!.probs.toFloat32(), logits: saved!.logits.toFloat32(), offsets: batch.offsets, slots: this.compressor.slots, topK: this.compressor.topK },
        TC_SSA_ROUTER_LOSS,
        this.auxWeight,
      );
      routing = this.auxWeight * terms.total;
      dGate = Tensor.from(dRouting, saved!.probs.shape, { device });
      this.compressor.backward(saved!, dSlots, 0, this.#grads, dGate).dispose();
    } else {
      const auxScale = this.auxWeight * slides;
      routing = auxScale * auxLoss;
      this.compressor.backward(saved!, dSlots, auxScale, this.#grads).dispose();
    }
    dGate?.dispose();
    return { lossSum: ce.loss + routing, count: slides };
  }

  /** Accuracy of the head on the evaluation batches (the compressor in inference mode). */
  async evaluate(): Promise<Record<string, number>> {
    if (!this.#evaluation) return {};
    let right = 0;
    let total = 0;
    for await (const batch of this.#evaluation()) {
      const predicted = this.predict(batch);
      predicted.forEach((p, i) => (right += Number(p === batch.labels[i])));
      total += predicted.length;
    }
    return { accuracy: total > 0 ? right / total : 0 };
  }

  /** The predicted class index of each slide of a batch. */
  predict(batch: SlideLabelBatch): number[] {
    const slides = batch.labels.length;
    using x = this.#features(batch);
    using slots = this.compressor.forward(x, batch.offsets).out;
    using pooled = this.#pool(slots);
    const { logits, saved } = this.head.forward(pooled);
    this.head.release(saved);
    const values = logits.toFloat32();
    logits.dispose();
    const k = this.classes.length;
    return Array.from({ length: slides }, (_, s) => {
      let best = 0;
      for (let c = 1; c < k; c++) if (values[s * k + c] > values[s * k + best]) best = c;
      return best;
    });
  }

  async saveWeights(dir: string): Promise<void> {
    await saveCompressor(join(dir, COMPRESSOR_FILE), this.compressor);
    await writeStateDict(join(dir, CLASSIFIER_FILE), this.head.params);
    await writeFile(join(dir, CLASSES_FILE), `${JSON.stringify(this.classes)}\n`);
  }

  async loadWeights(dir: string): Promise<void> {
    const classesFile = join(dir, CLASSES_FILE);
    const classes = existsSync(classesFile) ? parseJson(await readFile(classesFile, 'utf8'), classesFile) : undefined;
    if (JSON.stringify(classes) !== JSON.stringify(this.classes)) throw new FormatError(`${classesFile}: classes ${JSON.stringify(classes)} differ from this run's ${JSON.stringify(this.classes)}`);
    const device = this.#device;
    const loaded = await loadCompressor(join(dir, COMPRESSOR_FILE), { device });
    for (const [name, value] of loaded.params) scale(value, 1, { out: this.compressor.params.get(name)! });
    loaded.dispose();
    const headFile = join(dir, CLASSIFIER_FILE);
    const state = await readStateDict(headFile);
    for (const [name, shape] of headShapes(this.head.kind, this.compressor.width, this.classes.length)) {
      using value = stateTensor(state, name, shape, headFile, { device });
      scale(value, 1, { out: this.head.params.get(name)! });
    }
  }

  get #device(): Device {
    return this.compressor.params.get('gate.weight')!.device;
  }

  /** The batch's patch features, every slide's rows one after another, on the compressor's device. */
  #features(batch: SlideLabelBatch): Tensor {
    const rows = batch.offsets[batch.labels.length];
    return Tensor.from(batch.features.subarray(0, rows * 1024), [rows, 1024], { device: this.#device });
  }

  /** The mean of each slide's K slot tokens: (S, K, D) → (S, D). */
  #pool(slots: Tensor): Tensor {
    const [s, k, d] = slots.shape;
    const pooled = Tensor.empty([s, d], { device: slots.device });
    for (let i = 0; i < s; i++) {
      using slide = slots.narrow(i, i + 1);
      using rows = slide.reshape([k, d]);
      using target = pooled.narrow(i, i + 1);
      using flat = target.reshape([d]);
      runOp('sum_rows', { out: flat, x: rows });
    }
    scale(pooled, 1 / k, { out: pooled });
    return pooled;
  }

  /** The gradient of {@link #pool}: each slot gets its slide's gradient / K. */
  #unpool(dPooled: Tensor, shape: readonly number[]): Tensor {
    const [s, k, d] = shape;
    const out = Tensor.empty(shape, { device: dPooled.device });
    using ones = Tensor.from(new Float32Array(k).fill(1 / k), [k, 1], { device: dPooled.device });
    for (let i = 0; i < s; i++) {
      using row = dPooled.narrow(i, i + 1);
      using slide = out.narrow(i, i + 1);
      using target = slide.reshape([k, d]);
      matmul(ones, row, { out: target });
    }
    return out;
  }

  dispose(): void {
    for (const t of this.#grads.values()) t.dispose();
    this.head.dispose();
  }
}
