/** What the trainer trains: a stage's model seen as parameters with gradients, and one step's work. */
import type { Tensor } from '../tensor.js';

/** A trained parameter and its gradient (f32, same shape), accumulated by forwardBackward. */
export interface TrainableParameter {
  name: string;
  value: Tensor;
  grad: Tensor;
  /** Its learning rate as a multiple of the run's (e.g. the compressor's own rate when it trains in stages 1–2). Default 1. */
  lrScale?: number;
}

/**
 * Trained parameters that lie end to end in one buffer, in the order of `names` (as in
 * `parameters()`), and their gradients likewise in an f32 buffer: ZeRO-1 shards these buffers in
 * place instead of copying the parameters.
 */
export interface FlatParameters {
  values: Tensor;
  grads: Tensor;
  names: string[];
}

/** Where in the run a micro-batch falls: tasks derive their noise and dropout seeds from it, so a resumed run repeats them. */
export interface StepContext {
  /** The optimizer step this micro-batch contributes to (0-based). */
  step: number;
  /** The micro-batch within the step (gradient accumulation). */
  micro: number;
  /** The run's seed. */
  seed: number;
  /** This process's rank in a data-parallel run (0 alone), so that ranks draw different noise. */
  rank?: number;
  /**
   * Set on the last micro-batch of a step in a data-parallel run: call it with the names (as in
   * `parameters()`) of gradients that no later op of the backward adds to, as soon as they are
   * final, so that their sum over the ranks travels while the backward goes on. Every rank must
   * report in the same order. Gradients never reported are summed after `forwardBackward`.
   */
  gradientsReady?: (names: readonly string[]) => void;
}

/** A trainable stage. */
export interface TrainTask<Batch> {
  /** What a loss counts, for progress and reports: `tokens` (answer tokens, the default) or `slides` (stage 0). */
  readonly countUnit?: 'tokens' | 'slides';
  /** Only what this stage trains. */
  parameters(): TrainableParameter[];
  zeroGradients(): void;
  /** The parameters that are views of flat buffers, if any (see {@link FlatParameters}). */
  flatParameters?(): FlatParameters[];
  /** Adds the gradients of the batch's summed loss; returns that sum and the count it is a sum over (answer tokens, slides). */
  forwardBackward(batch: Batch, context: StepContext): Promise<{ lossSum: number; count: number }>;
  /** Metrics on held-out data, for the report (e.g. `{ accuracy: 0.8 }`). */
  evaluate?(): Promise<Record<string, number>>;
  /** Writes the stage's weight files into `dir` (`compressor.safetensors`, `projector.safetensors`, `llm/`). */
  saveWeights(dir: string): Promise<void>;
  /** Reads them back from a checkpoint folder. */
  loadWeights(dir: string): Promise<void>;
}

/** Batches of an epoch, in a fixed order for (seed, epoch); the data loader is one. */
export interface BatchSource<Batch> {
  readonly batchesPerEpoch: number;
  batches(epoch: number, fromBatch?: number): AsyncIterable<Batch>;
  /** Seconds waited so far for batches not ready when asked for, where the source measures it (logged per step). */
  readonly waitSeconds?: number;
}
