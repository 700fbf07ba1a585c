/**
 * One training stage from a dataset file, as `wsi-vqa train` runs it (the command calls this):
 * 0 the compressor on slide labels, 1 the projector on captions, 2 the projector and the LLM on
 * conversations. Under `wsi-vqa launch` (or torchrun, or Slurm) it joins the other ranks and
 * trains data-parallel.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCompressor, randomCompressor } from '../compressorState.js';
import { readDataset } from '../data/dataset.js';
import { requireFeatureFiles } from '../data/featuresExist.js';
import { DataLoader } from '../data/loader.js';
import type { GradReduceDtype } from '../distributed/gradientBuckets.js';
import { ProcessGroup, rendezvousFromEnv } from '../distributed/processGroup.js';
import { ConfigError } from '../errors.js';
import type { Device } from '../native.js';
import { renderReport } from '../report/html.js';
import type { VqaBatch } from '../text/collate.js';
import { COMPRESSOR_FILE, CompressorClassifierTask, type SlideLabelBatch, slideLabelCollate } from '../train/compressorTask.js';
import { type TrainConfigInput, parseTrainConfig } from '../train/config.js';
import { describeTrainingInputs } from '../train/fingerprint.js';
import type { ProgressMode } from '../train/progress.js';
import { trainingSection } from '../train/report.js';
import { checkStageData, slideClasses } from '../train/stageData.js';
import { type TrainResult, train } from '../train/trainer.js';
import { vqaCollate } from '../vqa/batches.js';
import { VqaModel } from '../vqa/vqaModel.js';
import { LLM_DIR, PROJECTOR_FILE, TRAINED_COMPRESSOR_FILE, VqaTask } from '../vqa/vqaTask.js';

/** Where a stage's samples come from. */
export interface DataFileOptions {
  /** Stage 0: slide labels CSV; stage 1: captions CSV; stage 2: SlideChat / VQA JSON; evaluation: a benchmark. */
  dataPath: string;
  /** Folder the dataset's feature paths are relative to. Default: the dataset file's folder. */
  featuresDir?: string;
  /** Patches kept per slide, evenly spaced (SlideChat keeps 10 240). Default: all. */
  maxPatches?: number;
}

/** Options of every stage: the training config (see {@link TrainConfigInput}) without its stage, the data, and how to run. */
export type StageOptions = Omit<TrainConfigInput, 'stage'> &
  DataFileOptions & {
    /** `cpu` or `cuda:N` (under a launcher, `cuda` trains rank r on its local GPU). Default `cpu`. */
    device?: Device | 'cuda';
    /** The compressor: our `compressor.safetensors` or TC-SSA's `moe_best.pt`. Default: random (seeded). */
    compressorPath?: string;
    /** Continue from the newest good checkpoint in `outputDir`, if this run (settings, data, model) wrote it. Default false. */
    resume?: boolean;
    /** With `resume`: continue the checkpoint even if another run wrote it. Default false. */
    resumeAnyway?: boolean;
    /** When aborted, the run stops at the end of the step in progress with a checkpoint (`interrupted` in the result). */
    stop?: AbortSignal;
    /** Under a launcher: shard the optimizer state over the ranks (ZeRO-1). Default false. */
    zero1?: boolean;
    /** Under a launcher: size of the gradient buckets summed during the backward pass, in MiB. Default 25. */
    bucketCapMb?: number;
    /** Under a launcher with NCCL: what gradient buckets travel as (bf16: half the bytes). Default f32. */
    gradReduceDtype?: GradReduceDtype;
    /** Progress display. Default `auto` (a bar on a terminal, lines otherwise). */
    progress?: ProgressMode;
  };

/** Options of {@link trainStage}: stage 0 needs no LLM; stages 1 and 2 need one. */
export type TrainStageOptions =
  | (StageOptions & {
      stage: 0;
      /** Without `compressorPath`: the new compressor's expert inner width. Default 512 (TC-SSA's). */
      expertWidth?: number;
      llmPath?: undefined;
      projectorPath?: undefined;
    })
  | (StageOptions & {
      stage: 1 | 2;
      /** A Hugging Face Qwen3 folder (config.json, model.safetensors, tokenizer). */
      llmPath: string;
      /** The projector to start from: our `projector.safetensors` or a PyTorch `projector.pt`. Default: random (seeded). */
      projectorPath?: string;
      expertWidth?: undefined;
    });

/** What every stage did: its steps, metrics and checkpoint (see {@link TrainResult}). */
export interface StageResult extends TrainResult {
  /** This process's rank in a data-parallel run (0 without one): rank 0 writes the files. */
  rank: number;
  /** `report.html` with the loss and learning-rate curves (written by rank 0). */
  reportPath: string;
}

/** Stage 0's result: the trained compressor, for stages 1 and 2 and evaluation. */
export interface CompressorStageResult extends StageResult {
  stage: 0;
  compressorPath: string;
}

/** Stage 1's or 2's result: the files the next stage or an evaluation takes. */
export interface VqaStageResult extends StageResult {
  stage: 1 | 2;
  /** The compressor to use next: the one trained with `trainCompressor`, else the one the stage used (undefined when it was random). */
  compressorPath?: string;
  /** The trained projector. */
  projectorPath: string;
  /** The LLM to use next: stage 2's trained one, stage 1's unchanged input. */
  llmPath: string;
}

export type TrainStageResult = CompressorStageResult | VqaStageResult;

/** The options that are not training-config keys; the rest is validated as the config. */
const RUN_KEYS = ['dataPath', 'featuresDir', 'maxPatches', 'device', 'compressorPath', 'expertWidth', 'llmPath', 'projectorPath', 'resume', 'resumeAnyway', 'stop', 'zero1', 'bucketCapMb', 'gradReduceDtype', 'progress'] as const;

/**
 * Trains one stage and writes `final/` (and `step-<n>/` with `saveEvery`), `metrics.jsonl` and
 * `report.html` into `outputDir`. A bad or unknown option is a {@link ConfigError} naming it; a
 * missing file an `IoError`; a bad row a `FormatError` naming the file and row.
 */
export function trainStage(options: TrainStageOptions & { stage: 0 }): Promise<CompressorStageResult>;
export function trainStage(options: TrainStageOptions & { stage: 1 | 2 }): Promise<VqaStageResult>;
export function trainStage(options: TrainStageOptions): Promise<TrainStageResult>;
export async function trainStage(options: TrainStageOptions): Promise<TrainStageResult> {
  const run = Object.fromEntries(RUN_KEYS.map((key) => [key, options[key]])) as Pick<TrainStageOptions & { stage: 1 }, (typeof RUN_KEYS)[number]>;
  const configInput = Object.fromEntries(Object.entries(options).filter(([key]) => !(RUN_KEYS as readonly string[]).includes(key)));
  const config = parseTrainConfig(configInput, 'trainStage options');
  if (config.stage !== 0 && !run.llmPath) throw new ConfigError(`stage ${config.stage} trains with an LLM: 'llmPath' (--llm-path) is required`);
  if (run.expertWidth !== undefined) {
    if (config.stage !== 0 || run.compressorPath) throw new ConfigError("'expertWidth' (--expert-width) sizes a new compressor: stage 0 without 'compressorPath' only");
    if (!(Number.isInteger(run.expertWidth) && run.expertWidth > 0)) throw new ConfigError(`'expertWidth' must be a positive integer, got ${run.expertWidth}`);
  }
  const samples = await readDataset(run.dataPath, { featuresDir: run.featuresDir });
  checkStageData(config.stage, samples, run.dataPath);
  await requireFeatureFiles(samples, run.dataPath, run);
  // Under wsi-vqa launch (or torchrun, or Slurm): join the other ranks; each reads its own shard.
  const rendezvous = rendezvousFromEnv();
  const requested = run.device ?? 'cpu';
  const device = (rendezvous && requested.startsWith('cuda') ? `cuda:${rendezvous.localRank}` : requested === 'cuda' ? 'cuda:0' : requested) as Device;
  const group = rendezvous && (await ProcessGroup.init({ ...rendezvous, device }));
  const loaderOptions = { batchSize: config.batchSize, seed: config.seed, maxPatches: run.maxPatches, rank: group?.rank, worldSize: group?.worldSize };
  // What the run was started with, recorded in each checkpoint so that a resume of another run is refused.
  const sources = await describeTrainingInputs({ dataPath: run.dataPath, maxPatches: run.maxPatches, llmPath: run.llmPath, compressorPath: run.compressorPath, projectorPath: run.projectorPath });
  const trainOptions = { resume: run.resume, resumeAnyway: run.resumeAnyway, sources, stop: run.stop, group, zero1: run.zero1, bucketBytes: (run.bucketCapMb ?? 25) * 2 ** 20, gradReduceDtype: run.gradReduceDtype, progress: run.progress };
  let result: TrainResult;
  let outputs: Pick<CompressorStageResult, 'stage' | 'compressorPath'> | Pick<VqaStageResult, 'stage' | 'compressorPath' | 'projectorPath' | 'llmPath'>;
  if (config.stage === 0) {
    const classes = slideClasses(samples);
    const compressor = run.compressorPath ? await loadCompressor(run.compressorPath, { device }) : randomCompressor({ device, seed: config.seed, expertWidth: run.expertWidth });
    const task = new CompressorClassifierTask(compressor, classes, { seed: config.seed });
    try {
      result = await train(task, new DataLoader<SlideLabelBatch>(samples, { ...loaderOptions, collate: slideLabelCollate(classes) }), config, trainOptions);
    } finally {
      task.dispose();
      compressor.dispose();
    }
    outputs = { stage: 0, compressorPath: join(result.checkpoint, COMPRESSOR_FILE) };
  } else {
    const model = await VqaModel.load({ llmPath: run.llmPath!, compressorPath: run.compressorPath, projectorPath: run.projectorPath, device, seed: config.seed });
    const task = new VqaTask(model, config.stage, { trainCompressor: config.trainCompressor ? { lrScale: (config.compressorLr ?? config.lr) / config.lr } : undefined });
    try {
      result = await train(task, new DataLoader<VqaBatch>(samples, { ...loaderOptions, collate: vqaCollate(model.tokenizer, model.imageTokens) }), config, trainOptions);
    } finally {
      task.dispose();
      model.dispose();
    }
    outputs = {
      stage: config.stage,
      compressorPath: config.trainCompressor ? join(result.checkpoint, TRAINED_COMPRESSOR_FILE) : run.compressorPath,
      projectorPath: join(result.checkpoint, PROJECTOR_FILE),
      llmPath: config.stage === 2 ? join(result.checkpoint, LLM_DIR) : run.llmPath!,
    };
  }
  await group?.close();
  const reportPath = join(config.outputDir, 'report.html');
  if (!group || group.rank === 0) await writeFile(reportPath, renderReport(`wsi-vqa stage ${config.stage}`, [trainingSection(`Stage ${config.stage}`, result, { unit: config.stage === 0 ? 'slides' : 'tokens' })]));
  return { ...result, rank: group?.rank ?? 0, reportPath, ...outputs };
}
