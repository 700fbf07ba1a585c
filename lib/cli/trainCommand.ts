/** `wsi-vqa train`: one training stage from the command line, with the flags of SlideChat / TC-SSA's scripts. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { randomCompressor, loadCompressor } from '../compressorState.js';
import { readDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { ProcessGroup, rendezvousFromEnv } from '../distributed/processGroup.js';
import type { Device } from '../native.js';
import { renderReport } from '../report/html.js';
import type { VqaBatch } from '../text/collate.js';
import { CompressorClassifierTask, type SlideLabelBatch, slideLabelCollate } from '../train/compressorTask.js';
import { parseTrainConfig } from '../train/config.js';
import { trainingSection } from '../train/report.js';
import { type TrainResult, train } from '../train/trainer.js';
import { vqaCollate } from '../vqa/batches.js';
import { VqaTask } from '../vqa/vqaTask.js';
import { type ModelFlags, loadModel, withModelOptions } from './modelOptions.js';
import { integerOption, numberOption } from './options.js';

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
  saveEvery: number;
  evalEvery: number;
  seed: number;
  maxPatches?: number;
  zero1?: boolean;
  bucketCapMb: number;
  trainCompressor?: boolean;
  compressorLr?: number;
}

export function registerTrainCommand(program: Command): Command {
  const command = program
    .command('train')
    .description('train a stage: 0 the compressor on slide labels, 1 the projector on captions, 2 the projector and the LLM on conversations')
    .requiredOption('--stage <n>', '0, 1 or 2', integerOption)
    .requiredOption('--data-path <file>', 'stage 0: slide labels CSV; stage 1: captions CSV; stage 2: SlideChat / VQA JSON')
    .option('--features-dir <dir>', "folder the dataset's feature paths are relative to (default: the dataset's folder)")
    .requiredOption('--output-dir <dir>', 'checkpoints, metrics.jsonl and report.html go here')
    .option('--batch-size <n>', 'samples per micro-batch', integerOption, 4)
    .option('--gradient-accumulation-steps <n>', 'micro-batches per optimizer step', integerOption, 1)
    .option('--num-epochs <n>', 'epochs', integerOption, 1)
    .option('--lr <x>', 'peak learning rate (default: 1e-4 for stages 0 and 1, 1e-5 for stage 2)', numberOption)
    .option('--save-every <n>', 'checkpoint every n optimizer steps (0: only the final one)', integerOption, 0)
    .option('--eval-every <n>', 'evaluate every n optimizer steps', integerOption, 0)
    .option('--max-patches <n>', 'patches kept per slide, evenly spaced (SlideChat keeps 10 240)', integerOption)
    .option('--seed <n>', 'data order, noise and dropout', integerOption, 0)
    .option('--resume', 'continue from the last checkpoint in --output-dir')
    .option('--train-compressor', 'stages 1 and 2: train the MoE compressor too (saved in each checkpoint as moe_best.pt, in TC-SSA layout)')
    .option('--compressor-lr <x>', "with --train-compressor: the compressor's peak learning rate (default: --lr)", numberOption)
    .option('--zero1', 'under wsi-vqa launch: shard the optimizer state over the ranks (ZeRO-1)')
    .option('--bucket-cap-mb <mb>', 'under wsi-vqa launch: size of the gradient buckets summed during the backward pass', numberOption, 25);
  // Stage 0 trains the compressor alone: no LLM.
  withModelOptions(command, { llmOptional: true });
  return command.action(async (flags: TrainFlags) => {
    const config = parseTrainConfig(
      { stage: flags.stage, outputDir: flags.outputDir, batchSize: flags.batchSize, gradientAccumulationSteps: flags.gradientAccumulationSteps, epochs: flags.numEpochs, lr: flags.lr, saveEvery: flags.saveEvery, evalEvery: flags.evalEvery, seed: flags.seed, trainCompressor: flags.trainCompressor, compressorLr: flags.compressorLr },
      'wsi-vqa train flags',
    );
    const samples = await readDataset(flags.dataPath, { featuresDir: flags.featuresDir });
    // Under wsi-vqa launch (or torchrun, or Slurm): join the other ranks; each reads its own shard.
    const rendezvous = rendezvousFromEnv();
    const device = (rendezvous && flags.device.startsWith('cuda') ? `cuda:${rendezvous.localRank}` : flags.device) as Device;
    const group = rendezvous && (await ProcessGroup.init({ ...rendezvous, device }));
    const loaderOptions = { batchSize: config.batchSize, seed: config.seed, maxPatches: flags.maxPatches, rank: group?.rank, worldSize: group?.worldSize };
    const trainOptions = { resume: flags.resume, group, zero1: flags.zero1, bucketBytes: flags.bucketCapMb * 2 ** 20 };
    let result: TrainResult;
    if (config.stage === 0) {
      const classes = [...new Set(samples.map((s) => s.label ?? ''))].sort();
      const compressor = flags.moeCheckpoint ? await loadCompressor(flags.moeCheckpoint, { device }) : randomCompressor({ device, seed: config.seed });
      const task = new CompressorClassifierTask(compressor, classes, { seed: config.seed });
      result = await train(task, new DataLoader<SlideLabelBatch>(samples, { ...loaderOptions, collate: slideLabelCollate(classes) }), config, trainOptions);
    } else {
      const model = await loadModel({ ...flags, device }, config.seed);
      const task = new VqaTask(model, config.stage, { trainCompressor: config.trainCompressor ? { lrScale: (config.compressorLr ?? config.lr) / config.lr } : undefined });
      result = await train(task, new DataLoader<VqaBatch>(samples, { ...loaderOptions, collate: vqaCollate(model.tokenizer, model.imageTokens) }), config, trainOptions);
    }
    await group?.close();
    if (group && group.rank !== 0) return;
    await writeFile(join(config.outputDir, 'report.html'), renderReport(`wsi-vqa stage ${config.stage}`, [trainingSection(`Stage ${config.stage}`, result, { unit: config.stage === 0 ? 'slides' : 'tokens' })]));
    process.stderr.write(`stage ${config.stage}: ${result.steps} steps; checkpoint ${result.checkpoint}; report ${join(config.outputDir, 'report.html')}\n`);
  });
}
