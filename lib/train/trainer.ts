/**
 * The training loop, the same for every stage: micro-batches in a fixed order per (seed, epoch),
 * gradients accumulated over `gradientAccumulationSteps`, the loss normalised over everything the
 * step counted (all answer tokens of all its micro-batches, DESIGN §2), global-norm clipping,
 * fused AdamW with warmup then cosine decay; metrics per step in `metrics.jsonl`, checkpoints
 * every `saveEvery` steps and at the end, and `resume` continuing from the last checkpoint so the
 * final weights equal an uninterrupted run's.
 *
 * Data-parallel with a process group: each rank trains on its own shard of every epoch (the data
 * source is made per rank), the parameters start as rank 0's, and the gradients and the loss
 * counts are summed over the ranks before the step (the gradients in buckets that start while the
 * last micro-batch's backward runs), so N ranks of batch B step like one of batch N·B. Rank 0
 * alone writes metrics, checkpoints and evaluates; every rank can resume.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrainingError } from '../errors.js';
import type { ProcessGroup } from '../distributed/processGroup.js';
import { ShardedAdamW } from '../distributed/shardedAdamW.js';
import { writeStateDict } from '../io/stateDict.js';
import { clipScale } from '../qwen3Ops.js';
import { FINAL_CHECKPOINT, OPTIMIZER_FILE, type TrainerState, latestCheckpoint, stepCheckpointName, writeCheckpoint } from './checkpoints.js';
import type { TrainConfig } from './config.js';
import { AdamW, type TrainOptimizer } from './optimizer.js';
import { type ProgressMode, type StepMetrics, makeProgress } from './progress.js';
import { cosineWithWarmup } from './schedule.js';
import type { BatchSource, TrainTask, TrainableParameter } from './task.js';

export const METRICS_FILE = 'metrics.jsonl';

/** Options of {@link train} beyond the config. */
export interface TrainOptions {
  /** Continue from the last checkpoint in the output folder (a fresh start when there is none). */
  resume?: boolean;
  /** Label of the progress display. Default `stage <n>`. */
  label?: string;
  progress?: ProgressMode;
  /** Stop after this many optimizer steps in this call (a checkpoint is written there): for tests of resume. */
  stopAfter?: number;
  /** The ranks of a data-parallel run; every rank calls train with the same config. */
  group?: ProcessGroup;
  /** With a group: shard the optimizer state over the ranks (ZeRO-1). */
  zero1?: boolean;
  /** With a group: the size of the gradient buckets whose sums overlap the backward pass (DDP's `bucket_cap_mb`). Default 25 MiB. */
  bucketBytes?: number;
}

/** What a run did. */
export interface TrainResult {
  steps: number;
  /** Every step's metrics, from the start of the run (resumed runs included). */
  history: StepMetrics[];
  /** Evaluations: the step and the task's metrics. */
  evaluations: { step: number; metrics: Record<string, number> }[];
  /** The checkpoint folder written last. */
  checkpoint: string;
}

/** Trains `task` on `data` as `config` says. */
export async function train<Batch>(task: TrainTask<Batch>, data: BatchSource<Batch>, config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const out = config.outputDir;
  await mkdir(out, { recursive: true });
  const accumulation = config.gradientAccumulationSteps;
  const stepsPerEpoch = Math.ceil(data.batchesPerEpoch / accumulation);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warmup = Math.round(config.warmupRatio * totalSteps);
  const params = task.parameters();
  const group = options.group;
  const leader = (group?.rank ?? 0) === 0;
  if (group) {
    group.checkAgreement({
      'the trained parameters': describeParameters(params),
      'the training config': JSON.stringify({ ...config, outputDir: undefined }),
      'the epoch': `${data.batchesPerEpoch} micro-batches`,
      'the optimizer': options.zero1 ? 'ZeRO-1' : `AdamW, gradient buckets of ${options.bucketBytes ?? 'default'} bytes`,
    });
    for (const { value } of params) group.broadcast(value, 0);
  }
  const optimizer: TrainOptimizer = group && options.zero1 ? new ShardedAdamW(params, group, task.flatParameters?.()) : new AdamW(params, group, { bucketBytes: options.bucketBytes });
  let state: TrainerState = { step: 0, epoch: 0, batchInEpoch: 0, totalSteps, config };
  let history: StepMetrics[] = [];
  const evaluations: TrainResult['evaluations'] = [];
  const metricsFile = join(out, METRICS_FILE);

  const resumed = options.resume ? await latestCheckpoint(out) : undefined;
  if (resumed) {
    if (resumed.state.totalSteps !== totalSteps) {
      throw new TrainingError(`${resumed.dir}: the checkpoint is from a run of ${resumed.state.totalSteps} steps, this config makes ${totalSteps}`);
    }
    await task.loadWeights(resumed.dir);
    await optimizer.load(join(resumed.dir, OPTIMIZER_FILE));
    state = resumed.state;
    // The steps after the checkpoint are done again: drop their lines.
    history = (await readMetrics(metricsFile)).filter((m) => m.step <= state.step);
  }
  if (leader) await writeFile(metricsFile, history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));

  const progress = makeProgress(options.label ?? `stage ${config.stage}`, totalSteps, leader ? options.progress : 'none', task.countUnit);
  if (resumed) progress.log(`resumed from ${resumed.dir} at step ${state.step}`);
  let checkpoint = resumed?.dir ?? '';
  const save = async (name: string) => {
    const optimizerState = optimizer.stateTensors();
    try {
      checkpoint = leader
        ? await writeCheckpoint(out, name, state, async (dir) => {
            await task.saveWeights(dir);
            await writeStateDict(join(dir, OPTIMIZER_FILE), optimizerState.tensors);
          })
        : join(out, name);
    } finally {
      optimizerState.dispose();
    }
    group?.barrier();
  };
  const stopAt = options.stopAfter === undefined ? totalSteps : Math.min(totalSteps, state.step + options.stopAfter);
  try {
    while (state.step < stopAt) {
      let micro = 0;
      let lossSum = 0;
      let count = 0;
      let started = performance.now();
      for await (const batch of data.batches(state.epoch, state.batchInEpoch)) {
        if (micro === 0) {
          task.zeroGradients();
          started = performance.now();
        }
        const lastMicro = micro + 1 === accumulation || state.batchInEpoch + 1 === data.batchesPerEpoch;
        const result = await task.forwardBackward(batch, {
          step: state.step,
          micro,
          seed: config.seed,
          rank: group?.rank ?? 0,
          gradientsReady: group && lastMicro ? (names) => optimizer.gradientsReady(names) : undefined,
        });
        // With ranks, a bad loss is caught below, on every rank at once, so that none waits for the others in vain.
        if (!group && !Number.isFinite(result.lossSum)) {
          throw new TrainingError(`step ${state.step + 1} (epoch ${state.epoch + 1}, micro-batch ${state.batchInEpoch + 1}): the loss is ${result.lossSum}; stopped, the last checkpoint is intact`);
        }
        lossSum += result.lossSum;
        count += result.count;
        micro++;
        state.batchInEpoch++;
        const endOfEpoch = state.batchInEpoch === data.batchesPerEpoch;
        if (micro < accumulation && !endOfEpoch) continue;

        if (group) {
          [lossSum, count] = group.sum([lossSum, count]);
          if (!Number.isFinite(lossSum)) {
            throw new TrainingError(`step ${state.step + 1} (epoch ${state.epoch + 1}): the loss summed over the ranks is ${lossSum}; stopped, the last checkpoint is intact`);
          }
        }
        optimizer.reduceGradients();
        const lr = cosineWithWarmup(state.step, totalSteps, warmup, config.lr);
        const norm = count > 0 ? optimizer.gradNorm() / count : 0;
        if (count > 0) {
          const clip = config.maxGradNorm > 0 ? clipScale(norm, config.maxGradNorm) : 1;
          optimizer.step({ lr, beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay, step: state.step + 1, gradScale: clip / count });
        }
        state.step++;
        if (endOfEpoch) {
          state.epoch++;
          state.batchInEpoch = 0;
        }
        const seconds = (performance.now() - started) / 1000;
        const metrics: StepMetrics = { step: state.step, epoch: state.epoch, loss: count > 0 ? lossSum / count : 0, lr, gradNorm: norm, tokens: count, tokensPerSecond: count / Math.max(seconds, 1e-9), seconds };
        history.push(metrics);
        if (leader) await appendFile(metricsFile, `${JSON.stringify(metrics)}\n`);
        progress.update(metrics);
        [micro, lossSum, count] = [0, 0, 0];
        if (leader && config.evalEvery > 0 && state.step % config.evalEvery === 0 && task.evaluate) {
          const result = await task.evaluate();
          if (Object.keys(result).length > 0) {
            evaluations.push({ step: state.step, metrics: result });
            progress.log(`step ${state.step}: ${Object.entries(result).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
          }
        }
        if (state.step < totalSteps && (state.step === stopAt || (config.saveEvery > 0 && state.step % config.saveEvery === 0))) await save(stepCheckpointName(state.step));
        if (state.step >= stopAt || endOfEpoch) break;
      }
    }
    if (state.step === totalSteps) {
      if (leader && task.evaluate && (evaluations.at(-1)?.step ?? -1) !== totalSteps) {
        const metrics = await task.evaluate();
        if (Object.keys(metrics).length > 0) evaluations.push({ step: totalSteps, metrics });
      }
      await save(FINAL_CHECKPOINT);
    }
  } finally {
    progress.stop();
    optimizer.dispose();
  }
  return { steps: state.step, history, evaluations, checkpoint };
}

/** The parameters' count, size and dtypes, and a hash of every name, shape and dtype: what the ranks must agree on. */
function describeParameters(params: readonly TrainableParameter[]): string {
  const list = params.map(({ name, value }) => `${name} ${value.dtype} [${value.shape.join(', ')}]`).join('\n');
  const elements = params.reduce((sum, { value }) => sum + value.numel, 0);
  const dtypes = [...new Set(params.map(({ value }) => value.dtype))].join(', ');
  return `${params.length} tensors of ${elements} elements (${dtypes}), names and shapes ${createHash('sha256').update(list).digest('hex').slice(0, 12)}`;
}

/** The metrics lines of a run so far (none when the file does not exist). */
export async function readMetrics(file: string): Promise<StepMetrics[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as StepMetrics);
}
