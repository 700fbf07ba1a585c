/**
 * The training loop, the same for every stage: micro-batches in a fixed order per (seed, epoch),
 * gradients accumulated over `gradientAccumulationSteps`, the loss normalised over everything the
 * step counted (all answer tokens of all its micro-batches), global-norm clipping,
 * fused AdamW with warmup then cosine decay; metrics per step in `metrics.jsonl`, checkpoints
 * every `saveEvery` steps and at the end, and `resume` continuing from the last checkpoint so the
 * final weights equal an uninterrupted run's. Each checkpoint records what the run was started
 * with, and a resume continues only the same run (`runRecord.ts`), from the newest checkpoint
 * that is not damaged (`resume.ts`). A `stop` signal ends the run at the end of a step, with a
 * checkpoint there.
 *
 * Data-parallel with a process group: each rank trains on its own shard of every epoch (the data
 * source is made per rank), the parameters start as rank 0's, and the gradients and the loss
 * counts are summed over the ranks before the step (the gradients in buckets that start while the
 * last micro-batch's backward runs), so N ranks of batch B step like one of batch N·B. Rank 0
 * alone writes metrics, checkpoints and evaluates; every rank can resume.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, FormatError, TrainingError } from '../errors.js';
import type { GradReduceDtype } from '../distributed/gradientBuckets.js';
import type { ProcessGroup } from '../distributed/processGroup.js';
import { ShardedAdamW } from '../distributed/shardedAdamW.js';
import { jsonErrorReason } from '../io/jsonText.js';
import { writeStateDict } from '../io/stateDict.js';
import { clipScale } from '../qwen3Ops.js';
import { FINAL_CHECKPOINT, OPTIMIZER_FILE, type TrainerState, removeUnfinishedCheckpoints, stepCheckpointName, writeCheckpoint } from './checkpoints.js';
import type { TrainConfig } from './config.js';
import { AdamW, type TrainOptimizer } from './optimizer.js';
import { type ProgressMode, type StepMetrics, makeProgress } from './progress.js';
import { resumeFromCheckpoint } from './resume.js';
import { describeParameters, makeRunRecord } from './runRecord.js';
import { cosineWithWarmup } from './schedule.js';
import type { BatchSource, TrainTask } from './task.js';

export const METRICS_FILE = 'metrics.jsonl';

/** Options of {@link train} beyond the config. */
export interface TrainOptions {
  /**
   * Continue from the newest checkpoint in the output folder that is not damaged (a fresh start
   * when there is none). A checkpoint of a run that differs from this one (see `runRecord.ts`)
   * is refused, naming the differences.
   */
  resume?: boolean;
  /** With `resume`: continue the checkpoint even when it was written by a run that differs, with this run's settings. */
  resumeAnyway?: boolean;
  /**
   * What the run reads, by name, as digests (e.g. `{ data: 'sha256:…', model: 'sha256:…' }`, see
   * `describeTrainingInputs`): recorded in every checkpoint, and compared when resuming.
   */
  sources?: Readonly<Record<string, string>>;
  /**
   * When aborted, the run stops at the end of the step in progress, writes a checkpoint there
   * (resumable like any other) and returns with `interrupted`. With a group, every rank stops
   * after the same step (the first at which any rank had been stopped).
   */
  stop?: AbortSignal;
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
  /** With an NCCL group and gradient buckets: what gradients travel as. Default f32. */
  gradReduceDtype?: GradReduceDtype;
}

/** What a run did. */
export interface TrainResult {
  steps: number;
  /** Every step's metrics, from the start of the run (resumed runs included). */
  history: StepMetrics[];
  /** Evaluations: the step and the task's metrics. */
  evaluations: { step: number; metrics: Record<string, number> }[];
  /** The newest checkpoint folder: written last, or resumed from; '' when there is none (stopped before the first step). */
  checkpoint: string;
  /** Whether `stop` ended the run before its last step. */
  interrupted: boolean;
}

/** Trains `task` on `data` as `config` says. */
export async function train<Batch>(task: TrainTask<Batch>, data: BatchSource<Batch>, config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const group = options.group;
  const reduceDtype = options.gradReduceDtype ?? 'f32';
  if (reduceDtype !== 'f32' && (!group || options.zero1)) {
    throw new ConfigError(`--grad-reduce-dtype ${reduceDtype} applies to the gradient buckets of a data-parallel run (under wsi-vqa launch, without --zero1)`);
  }
  const out = config.outputDir;
  await mkdir(out, { recursive: true });
  const accumulation = config.gradientAccumulationSteps;
  const stepsPerEpoch = Math.ceil(data.batchesPerEpoch / accumulation);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warmup = Math.round(config.warmupRatio * totalSteps);
  const params = task.parameters();
  const leader = (group?.rank ?? 0) === 0;
  // A run killed while saving leaves a temporary folder; every rank sees the cleaned folder.
  const cleaned = leader ? await removeUnfinishedCheckpoints(out) : [];
  group?.barrier();
  if (group) {
    group.checkAgreement({
      'the trained parameters': describeParameters(params),
      'the training config': JSON.stringify({ ...config, outputDir: undefined }),
      'the epoch': `${data.batchesPerEpoch} micro-batches`,
      'the optimizer': options.zero1 ? 'ZeRO-1' : `AdamW, gradient buckets of ${options.bucketBytes ?? 'default'} bytes in ${reduceDtype}`,
    });
    for (const { value } of params) group.broadcast(value, 0);
  }
  const optimizer: TrainOptimizer = group && options.zero1 ? new ShardedAdamW(params, group, task.flatParameters?.()) : new AdamW(params, group, { bucketBytes: options.bucketBytes, gradReduceDtype: reduceDtype });
  const run = makeRunRecord(config, group?.worldSize ?? 1, params, options.sources);
  let state: TrainerState = { step: 0, epoch: 0, batchInEpoch: 0, totalSteps, config, run };
  let history: StepMetrics[] = [];
  const evaluations: TrainResult['evaluations'] = [];
  const metricsFile = join(out, METRICS_FILE);

  const progress = makeProgress(options.label ?? `stage ${config.stage}`, totalSteps, leader ? options.progress : 'none', task.countUnit);
  let resumed: { dir: string; state: TrainerState } | undefined;
  try {
    for (const line of cleaned) progress.log(line);
    resumed = options.resume
      ? await resumeFromCheckpoint(
          out,
          run,
          async (dir) => {
            await task.loadWeights(dir);
            await optimizer.load(join(dir, OPTIMIZER_FILE));
          },
          { anyway: options.resumeAnyway, log: (message) => progress.log(message) },
        )
      : undefined;
    if (resumed) {
      const { step, epoch, batchInEpoch, totalSteps: theirs } = resumed.state;
      if (theirs !== totalSteps && !options.resumeAnyway) {
        throw new TrainingError(`${resumed.dir}: the checkpoint is from a run of ${theirs} steps, this config makes ${totalSteps}`);
      }
      if (step > totalSteps) throw new TrainingError(`${resumed.dir}: the checkpoint is at step ${step}, past the ${totalSteps} steps of this config`);
      // Resumed anyway on other data: a position past the end of the epoch starts the next one.
      state = batchInEpoch < data.batchesPerEpoch ? { ...resumed.state, config, run, totalSteps } : { step, epoch: epoch + 1, batchInEpoch: 0, totalSteps, config, run };
      // The steps after the checkpoint are done again: drop their lines.
      history = (await readMetrics(metricsFile)).filter((m) => m.step <= state.step);
      progress.log(`resumed from ${resumed.dir} at step ${state.step}`);
    }
  } catch (error) {
    progress.stop();
    optimizer.dispose();
    throw error;
  }
  if (leader) await writeFile(metricsFile, history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));
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
  // Stopped before the first step (while the model loaded): nothing to finish. With ranks, the first step's sums carry the stop.
  let interrupted = !group && state.step < totalSteps && (options.stop?.aborted ?? false);
  let waitedBefore = data.waitSeconds;
  try {
    while (state.step < stopAt && !interrupted) {
      const startedAt = [state.epoch, state.batchInEpoch].join();
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

        // With ranks, the stop travels with the loss sums: every rank stops after the same step.
        let stops = options.stop?.aborted ? 1 : 0;
        if (group) {
          [lossSum, count, stops] = group.sum([lossSum, count, stops]);
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
        if (data.waitSeconds !== undefined) [metrics.dataWaitSeconds, waitedBefore] = [data.waitSeconds - (waitedBefore ?? 0), data.waitSeconds];
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
        interrupted = stops > 0 && state.step < totalSteps;
        if (state.step < totalSteps && (interrupted || state.step === stopAt || (config.saveEvery > 0 && state.step % config.saveEvery === 0))) await save(stepCheckpointName(state.step));
        if (interrupted) progress.log(`stopped after step ${state.step}; the checkpoint ${checkpoint} resumes it`);
        if (interrupted || state.step >= stopAt || endOfEpoch) break;
      }
      // A source that gives no batch where the state says the epoch goes on would loop forever.
      if ([state.epoch, state.batchInEpoch].join() === startedAt) {
        throw new TrainingError(`epoch ${state.epoch + 1}: the data gave no batch from micro-batch ${state.batchInEpoch + 1} of ${data.batchesPerEpoch}`);
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
  return { steps: state.step, history, evaluations, checkpoint, interrupted };
}

/**
 * The metrics lines of a run so far (none when the file does not exist). An unfinished last line
 * (the run was killed while appending it) is left out; any other line that is not JSON is a
 * {@link FormatError} naming the file and line.
 */
export async function readMetrics(file: string): Promise<StepMetrics[]> {
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, 'utf8')).split('\n');
  const unfinished = lines.length - 1; // the text after the last line break
  const metrics: StepMetrics[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      metrics.push(JSON.parse(line) as StepMetrics);
    } catch (error) {
      if (index === unfinished) break;
      throw new FormatError(`${file}: line ${index + 1} is not valid JSON (${jsonErrorReason(error, line)})`, { cause: error });
    }
  }
  return metrics;
}
