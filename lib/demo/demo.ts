/**
 * The main job on an embedded default, with no GPU and no downloads: a synthetic slide dataset in
 * the real formats, a tiny random Qwen3 with the real tokenizer, then stage 0 (compressor on slide
 * labels) → stage 1 (projector on captions) → stage 2 (projector + LLM on conversations) →
 * evaluation on held-out slides beside the majority-letter, blind and shuffled-slide baselines,
 * and a report. A model that reads the slide scores far above the baselines; shown another
 * slide, it falls back to them. By default the compressor stays frozen after stage 0 (as in the
 * seed); `trainCompressor` trains it in stages 1 and 2 too.
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { evaluateBenchmark, writeBenchmarkResult } from '../eval/benchmark.js';
import { ConfigError } from '../errors.js';
import { FeatureCache } from '../io/featureCache.js';
import { makeTinyQwen3 } from '../model/tinyQwen3.js';
import { randomCompressor } from '../compressorState.js';
import { randomProjector } from '../projectorState.js';
import { Qwen3Model } from '../model/qwen3Model.js';
import { renderReport } from '../report/html.js';
import type { VqaBatch } from '../text/collate.js';
import { loadTokenizer } from '../text/tokenizer.js';
import { CLASSIFIER_FILE, COMPRESSOR_FILE, CompressorClassifierTask, type SlideLabelBatch, slideLabelCollate } from '../train/compressorTask.js';
import { parseTrainConfig } from '../train/config.js';
import type { ProgressMode } from '../train/progress.js';
import { trainingSection } from '../train/report.js';
import { OPTIMIZER_FILE } from '../train/checkpoints.js';
import { type TrainResult, train } from '../train/trainer.js';
import { vqaCollate } from '../vqa/batches.js';
import { VqaModel } from '../vqa/vqaModel.js';
import { LLM_DIR, PROJECTOR_FILE, TRAINED_COMPRESSOR_FILE, VqaTask } from '../vqa/vqaTask.js';
import { type DemoSettings, categorySummary, evaluationSection, examplesSection, introSection, settingsSection } from './report.js';
import { makeSyntheticDataset } from './synth.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where everything goes. */
  out: string;
  /** A much smaller run of the same pipeline, for tests: too short to learn much from the slides. */
  quick?: boolean;
  /** Train the compressor in stages 1 and 2 too, at {@link COMPRESSOR_LR}. Default false. */
  trainCompressor?: boolean;
  /**
   * Keep everything the run made: the synthetic data, the initial model, stage 1's weights and
   * every optimizer state (to resume a stage). Default false: the folder keeps what a user looks
   * at — the report, the results and the final model's weights.
   */
  keepAll?: boolean;
  seed?: number;
  progress?: ProgressMode;
  /** Where stage headings and results are written. Default: stderr. */
  log?: (line: string) => void;
}

/** What `wsi-vqa demo --json` prints. */
export interface DemoSummary {
  accuracy: number;
  majorityBaseline: number;
  blindAccuracy: number;
  shuffledAccuracy: number;
  /** Per narrow category: the model, blind, shuffled and majority-letter accuracy, and the questions. */
  categories: Record<string, { model: number; blind: number; shuffled: number; majority: number; questions: number }>;
  trainCompressor: boolean;
  seconds: number;
  out: string;
}

/** Sizes of the full demo and of the quick one. */
const SIZES = {
  full: { trainSlides: 160, testSlides: 32, epochs: [4, 3, 6] },
  quick: { trainSlides: 32, testSlides: 8, epochs: [2, 1, 2] },
};
/** Patches per synthetic slide: few, so the compressor's share of the time stays small. */
const PATCHES: [number, number] = [24, 64];
/**
 * The tiny LLM. Its bytes are nearly all the embedding of the real 151 936-token vocabulary
 * (19 MB at width 32), so the final model fits in the 50 MB the demo keeps.
 */
const LLM = { hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 16, intermediateSize: 128 };
/**
 * The compressor's expert inner width: 32 instead of TC-SSA's 512 (4.5 MB of weights instead of
 * 67 MB); every other shape is TC-SSA's. On these slides it learns no worse.
 */
const EXPERT_WIDTH = 32;
/** Peak learning rates of stages 0, 1 and 2. */
const LR = [1e-3, 2e-3, 5e-3] as const;
/** The compressor's own peak learning rate in stages 1–2 when it trains (TC-SSA's stage-0 rate). */
export const COMPRESSOR_LR = 1e-4;
const BATCH = 8;

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const size = options.quick ? SIZES.quick : SIZES.full;
  const seed = options.seed ?? 0;
  const out = options.out;
  const progress = options.progress ?? 'auto';

  await claimOutputFolder(out);
  await writeFile(join(out, DEMO_FILE), `${JSON.stringify({ running: true, quick: options.quick ?? false, trainCompressor: options.trainCompressor ?? false, seed })}\n`);
  log(`wsi-vqa demo → ${out}`);
  const data = await makeSyntheticDataset(join(out, 'data'), { trainSlides: size.trainSlides, testSlides: size.testSlides, seed, patches: PATCHES });
  log(`  data: ${size.trainSlides} training slides, ${data.questions} benchmark questions (${data.dir})`);
  const llmPath = join(out, 'tiny-qwen3');
  await makeTinyQwen3(llmPath, { ...LLM, seed });
  log(`  model: a random tiny Qwen3 (hidden ${LLM.hiddenSize}, ${LLM.layers} layers) with the real tokenizer (${llmPath})`);
  const cache = new FeatureCache();
  const readOptions = { featuresDir: data.dir };

  // Stage 0: the compressor learns the slides' tissue labels.
  const labelled = await readDataset(data.labelsCsv, readOptions);
  const classes = [...new Set(labelled.map((s) => s.label!))].sort();
  const stage0 = new CompressorClassifierTask(randomCompressor({ seed, expertWidth: EXPERT_WIDTH }), classes, { seed });
  const stage0Data = new DataLoader<SlideLabelBatch>(labelled, { batchSize: BATCH, collate: slideLabelCollate(classes), seed, cache });
  const stage0Result = await train(stage0, stage0Data, parseTrainConfig({ stage: 0, outputDir: join(out, 'stage0'), batchSize: BATCH, epochs: size.epochs[0], lr: LR[0], seed }), { progress, label: 'stage 0' });

  // Stages 1 and 2: the compressor (frozen, or trained on), a new projector, the tiny Qwen3.
  const trainCompressor = options.trainCompressor ?? false;
  const tokenizer = await loadTokenizer(llmPath);
  const llm = await Qwen3Model.load(llmPath);
  const model = new VqaModel({ compressor: stage0.compressor, projector: randomProjector(llm.config.hidden_size, seed + 1), llm, tokenizer, llmPath });
  const collate = vqaCollate(tokenizer, model.imageTokens);
  const vqaStage = async (stage: 1 | 2, file: string, epochs: number): Promise<TrainResult> => {
    const samples = await readDataset(file, readOptions);
    const loader = new DataLoader<VqaBatch>(samples, { batchSize: BATCH, collate, seed, cache });
    const lr = LR[stage];
    const task = new VqaTask(model, stage, { trainCompressor: trainCompressor ? { lrScale: COMPRESSOR_LR / lr } : undefined });
    try {
      const config = parseTrainConfig({ stage, outputDir: join(out, `stage${stage}`), batchSize: BATCH, epochs, lr, seed, trainCompressor, compressorLr: trainCompressor ? COMPRESSOR_LR : undefined });
      const result = await train(task, loader, config, { progress, label: `stage ${stage}` });
      return result;
    } finally {
      task.dispose();
    }
  };

  const stage1Result = await vqaStage(1, data.captionsCsv, size.epochs[1]);
  const stage2Result = await vqaStage(2, data.conversationsJson, size.epochs[2]);

  // Evaluation on the held-out slides.
  const benchmark = await readDataset(data.benchmarkJson, readOptions);
  log(`  evaluating ${benchmark.length} questions: the model, blind, shuffled slides`);
  const result = await evaluateBenchmark(model, benchmark, { mode: 'likelihood', seed, cache, progress });
  await writeBenchmarkResult(out, result);
  const summary: DemoSummary = {
    accuracy: result.breakdown.model!.overall.accuracy,
    majorityBaseline: result.majority.accuracy,
    blindAccuracy: result.breakdown.blind!.overall.accuracy,
    shuffledAccuracy: result.breakdown.shuffled!.overall.accuracy,
    categories: categorySummary(result),
    trainCompressor,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    out,
  };
  const settings: DemoSettings = {
    trainSlides: size.trainSlides,
    questions: data.questions,
    patches: PATCHES,
    epochs: size.epochs,
    lr: LR,
    compressorLr: trainCompressor ? COMPRESSOR_LR : undefined,
    batchSize: BATCH,
    seed,
    slots: model.imageTokens,
    llm: `hidden ${LLM.hiddenSize}, ${LLM.layers} layers, ${LLM.heads} heads (${LLM.kvHeads} KV), MLP ${LLM.intermediateSize}, the Qwen3 tokenizer`,
    expertWidth: EXPERT_WIDTH,
    seconds: summary.seconds,
  };
  const stage1Note =
    'The LLM is random and frozen here: its caption loss can only fall as far as the projector alone can steer it, so the curve stays nearly flat. ' +
    'With a pretrained LLM this stage teaches the projector to speak its embedding language; here it matters little, and stage 2 does the work.';
  await writeFile(join(out, 'report.html'), renderReport('wsi-vqa demo', [
    introSection(settings, trainCompressor),
    evaluationSection(result),
    examplesSection(result),
    trainingSection('Stage 0: compressor on slide labels', stage0Result, { unit: 'slides', note: 'Cross-entropy of the tissue label per slide, plus 0.1 × the routing losses (balance, entropy, z-loss), as TC-SSA trains its compressor.' }),
    trainingSection(`Stage 1: projector${trainCompressor ? ' and compressor' : ''} on captions`, stage1Result, { note: stage1Note }),
    trainingSection(`Stage 2: projector${trainCompressor ? ', compressor' : ''} and LLM on conversations`, stage2Result, { note: 'Cross-entropy per answer token (the letter and the end of the turn).' }),
    settingsSection(settings),
  ]));
  log(`  accuracy ${pct(summary.accuracy)} | majority letter ${pct(summary.majorityBaseline)} | blind ${pct(summary.blindAccuracy)} | shuffled slides ${pct(summary.shuffledAccuracy)} | ${summary.seconds} s`);
  log(`  report: ${join(out, 'report.html')}`);
  model.dispose();
  stage0.dispose();
  if (!options.keepAll) {
    const checkpoints = [stage0Result, stage1Result, stage2Result].map((r) => r.checkpoint);
    await dropIntermediates([
      data.dir,
      llmPath,
      join(checkpoints[1], PROJECTOR_FILE),
      ...checkpoints.map((dir) => join(dir, OPTIMIZER_FILE)),
      // A compressor trained on in stages 1–2: stage 2's moe_best.pt is the final one, and stage
      // 0's classifier head goes with the compressor it was trained on.
      ...(trainCompressor ? [join(checkpoints[0], COMPRESSOR_FILE), join(checkpoints[0], CLASSIFIER_FILE), join(checkpoints[1], TRAINED_COMPRESSOR_FILE)] : []),
    ]);
  }
  const finalCompressor = trainCompressor ? join(stage2Result.checkpoint, TRAINED_COMPRESSOR_FILE) : join(stage0Result.checkpoint, COMPRESSOR_FILE);
  log(`  the final model: --moe-checkpoint ${finalCompressor} --load-projector ${join(stage2Result.checkpoint, PROJECTOR_FILE)} --llm-path ${join(stage2Result.checkpoint, LLM_DIR)}`);
  log(`  kept ${(folderBytes(out) / 1e6).toFixed(1)} MB in ${out}${options.keepAll ? '' : " (the data, the initial model, the stages' intermediate weights and the optimizer states went: --keep-all keeps them)"}`);
  await writeFile(join(out, DEMO_FILE), `${JSON.stringify(summary)}\n`);
  return summary;
}

/** The demo's mark on its folder: at the start what runs, at the end the summary `--json` prints. */
export const DEMO_FILE = 'demo.json';

/**
 * The demo clears its folder before it writes (an earlier run's checkpoints would mix with this
 * one's, and at the end it removes its `data/`), so it takes only a new or empty folder or one an
 * earlier demo marked.
 */
async function claimOutputFolder(out: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`the demo's output folder ${out} cannot be used: ${(error as Error).message}`);
  }
  await mkdir(out, { recursive: true });
  if (entries.length > 0 && !entries.includes(DEMO_FILE)) throw new ConfigError(`${out} is not empty and no earlier demo wrote it: the demo clears its folder, so give it a new or empty one`);
  for (const entry of entries) await rm(join(out, entry), { recursive: true, force: true });
}

/**
 * What a user looks at stays: the report, the results and the final model (stage 0's compressor
 * or, trained on, stage 2's; stage 2's projector and LLM). What only made them goes: the data
 * (the seed makes it again), the initial LLM, the weights stage 2 trained on from and the
 * optimizer states (for resuming; twice the weights).
 */
async function dropIntermediates(paths: string[]): Promise<void> {
  for (const path of paths) await rm(path, { recursive: true, force: true });
}

function folderBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return bytes;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}
