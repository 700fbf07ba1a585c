/** `wsi-vqa train`: one training stage from the command line, with the flags of SlideChat / TC-SSA's scripts. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type TrainStageOptions, trainStage } from '../api/trainStage.js';
import type { GradReduceDtype } from '../distributed/gradientBuckets.js';
import { stopOnSignals } from '../train/signals.js';
import { type ModelFlags, modelSources, withModelOptions } from './modelOptions.js';
import { integerOption, positiveIntegerOption, positiveNumberOption } from './options.js';

interface TrainFlags extends ModelFlags {
  stage: number;
  dataPath: string;
  featuresDir?: string;
  outputDir: string;
  batchSize: number;
  gradientAccumulationSteps: number;
  numEpochs: number;
  lr?: number;
  resume?: boolean;
  resumeAnyway?: boolean;
  saveEvery: number;
  evalEvery: number;
  seed: number;
  maxPatches?: number;
  zero1?: boolean;
  bucketCapMb: number;
  trainCompressor?: boolean;
  compressorLr?: number;
  expertWidth?: number;
  gradReduceDtype: GradReduceDtype;
}

function stageOption(value: string): number {
  if (!['0', '1', '2'].includes(value.trim())) throw new InvalidArgumentError(`expected 0 (compressor), 1 (projector) or 2 (projector and LLM), got '${value}'`);
  return Number(value);
}

export function registerTrainCommand(program: Command): Command {
  const command = program
    .command('train')
    .description('train a stage: 0 the compressor on slide labels, 1 the projector on captions, 2 the projector and the LLM on conversations')
    .requiredOption('--stage <n>', '0, 1 or 2', stageOption)
    .requiredOption('--data-path <file>', 'stage 0: slide labels CSV; stage 1: captions CSV; stage 2: SlideChat / VQA JSON')
    .option('--features-dir <dir>', "folder the dataset's feature paths are relative to (default: the dataset's folder)")
    .requiredOption('--output-dir <dir>', 'checkpoints, metrics.jsonl and report.html go here')
    .option('--batch-size <n>', 'samples per micro-batch', positiveIntegerOption, 4)
    .option('--gradient-accumulation-steps <n>', 'micro-batches per optimizer step', positiveIntegerOption, 1)
    .option('--num-epochs <n>', 'epochs', positiveIntegerOption, 1)
    .option('--lr <x>', 'peak learning rate (default: 1e-4 for stages 0 and 1, 1e-5 for stage 2)', positiveNumberOption)
    .option('--save-every <n>', 'checkpoint every n optimizer steps (0: only the final one)', integerOption, 0)
    .option('--eval-every <n>', 'evaluate every n optimizer steps', integerOption, 0)
    .option('--max-patches <n>', 'patches kept per slide, evenly spaced (SlideChat keeps 10 240)', positiveIntegerOption)
    .option('--seed <n>', 'data order, noise and dropout', integerOption, 0)
    .option('--resume', 'continue from the newest good checkpoint in --output-dir, if this run wrote it')
    .option('--resume-anyway', "with --resume: continue the checkpoint even if another run (other settings, data or model) wrote it")
    .option('--expert-width <n>', "stage 0 without --moe-checkpoint: the new compressor's expert inner width (default 512, TC-SSA's)", positiveIntegerOption)
    .option('--train-compressor', 'stages 1 and 2: train the MoE compressor too (saved in each checkpoint as moe_best.pt, in TC-SSA layout)')
    .option('--compressor-lr <x>', "with --train-compressor: the compressor's peak learning rate (default: --lr)", positiveNumberOption)
    .option('--zero1', 'under wsi-vqa launch: shard the optimizer state over the ranks (ZeRO-1)')
    .option('--bucket-cap-mb <mb>', 'under wsi-vqa launch: size of the gradient buckets summed during the backward pass', positiveNumberOption, 25)
    .addOption(new Option('--grad-reduce-dtype <dtype>', 'under wsi-vqa launch with NCCL: what gradient buckets travel as').choices(['f32', 'bf16']).default('f32'));
  // Stage 0 trains the compressor alone: no LLM.
  withModelOptions(command, { llmOptional: true });
  return command.action(async (flags: TrainFlags) => {
    // Ctrl-C or SIGTERM: stop at the end of the step, with a checkpoint, and exit 130 or 143.
    const stopping = stopOnSignals();
    const result = await trainStage({
      stage: flags.stage,
      dataPath: flags.dataPath,
      featuresDir: flags.featuresDir,
      outputDir: flags.outputDir,
      batchSize: flags.batchSize,
      gradientAccumulationSteps: flags.gradientAccumulationSteps,
      epochs: flags.numEpochs,
      lr: flags.lr,
      saveEvery: flags.saveEvery,
      evalEvery: flags.evalEvery,
      seed: flags.seed,
      maxPatches: flags.maxPatches,
      ...modelSources(flags),
      resume: flags.resume,
      resumeAnyway: flags.resumeAnyway,
      expertWidth: flags.expertWidth,
      trainCompressor: flags.trainCompressor,
      compressorLr: flags.compressorLr,
      stop: stopping.signal,
      zero1: flags.zero1,
      bucketCapMb: flags.bucketCapMb,
      gradReduceDtype: flags.gradReduceDtype,
    } as TrainStageOptions);
    if (result.interrupted) process.exitCode = stopping.exitCode;
    if (result.rank !== 0) return;
    // Stopped before the first step of a fresh run, there is no checkpoint to resume.
    const stopped = result.checkpoint === '' ? ' (stopped before the first step)' : ' (stopped early: --resume continues it)';
    const checkpoint = result.checkpoint === '' ? 'no checkpoint' : `checkpoint ${result.checkpoint}`;
    process.stderr.write(`stage ${result.stage}: ${result.steps} steps${result.interrupted ? stopped : ''}; ${checkpoint}; report ${result.reportPath}\n`);
  });
}
