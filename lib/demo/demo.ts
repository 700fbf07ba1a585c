/**
 * The main job on an embedded default, with no GPU and no downloads: a synthetic slide dataset in
 * the real formats, a tiny random Qwen3 with the real tokenizer, then stage 0 (compressor on slide
 * labels) → stage 1 (projector on captions) → stage 2 (projector + LLM on conversations) →
 * evaluation on held-out slides beside the majority-letter, blind and shuffled-slide baselines,
 * and a report. A model that reads the slide scores far above the baselines; shown another
 * slide, it falls back to them.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { type BenchmarkResult, accuracyChart, evaluateBenchmark, writeBenchmarkResult } from '../eval/benchmark.js';
import { FeatureCache } from '../io/featureCache.js';
import { makeTinyQwen3 } from '../model/tinyQwen3.js';
import { randomCompressor } from '../compressorState.js';
import { randomProjector } from '../projectorState.js';
import { Qwen3Model } from '../model/qwen3Model.js';
import { type ReportSection, renderReport } from '../report/html.js';
import type { VqaBatch } from '../text/collate.js';
import { loadTokenizer } from '../text/tokenizer.js';
import { CompressorClassifierTask, type SlideLabelBatch, slideLabelCollate } from '../train/compressorTask.js';
import { parseTrainConfig } from '../train/config.js';
import type { ProgressMode } from '../train/progress.js';
import { trainingSection } from '../train/report.js';
import { type TrainResult, train } from '../train/trainer.js';
import { vqaCollate } from '../vqa/batches.js';
import { VqaModel } from '../vqa/vqaModel.js';
import { VqaTask } from '../vqa/vqaTask.js';
import { makeSyntheticDataset } from './synth.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where everything goes. */
  out: string;
  /** A much smaller run of the same pipeline, for tests: too short to learn much from the slides. */
  quick?: boolean;
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

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const size = options.quick ? SIZES.quick : SIZES.full;
  const seed = options.seed ?? 0;
  const out = options.out;
  const progress = options.progress ?? 'auto';

  log(`wsi-vqa demo → ${out}`);
  const data = await makeSyntheticDataset(join(out, 'data'), { trainSlides: size.trainSlides, testSlides: size.testSlides, seed, patches: PATCHES });
  log(`  data: ${size.trainSlides} training slides, ${data.questions} benchmark questions (${data.dir})`);
  const llmPath = join(out, 'tiny-qwen3');
  await rm(llmPath, { recursive: true, force: true }); // the demo's own model from an earlier run
  await makeTinyQwen3(llmPath, { hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, intermediateSize: 128, seed });
  log(`  model: a random tiny Qwen3 (hidden 64, 2 layers) with the real tokenizer (${llmPath})`);
  const cache = new FeatureCache();
  const readOptions = { featuresDir: data.dir };

  // Stage 0: the compressor learns the slides' tissue labels.
  const labelled = await readDataset(data.labelsCsv, readOptions);
  const classes = [...new Set(labelled.map((s) => s.label!))].sort();
  const stage0 = new CompressorClassifierTask(randomCompressor({ seed }), classes, { seed });
  const stage0Data = new DataLoader<SlideLabelBatch>(labelled, { batchSize: 8, collate: slideLabelCollate(classes), seed, cache });
  const stage0Result = await train(stage0, stage0Data, parseTrainConfig({ stage: 0, outputDir: join(out, 'stage0'), batchSize: 8, epochs: size.epochs[0], lr: 1e-3, seed }), { progress, label: 'stage 0' });

  // Stages 1 and 2: the frozen compressor, a new projector, the tiny Qwen3.
  const tokenizer = await loadTokenizer(llmPath);
  const llm = await Qwen3Model.load(llmPath);
  const model = new VqaModel({ compressor: stage0.compressor, projector: randomProjector(llm.config.hidden_size, seed + 1), llm, tokenizer, llmPath });
  const collate = vqaCollate(tokenizer, model.imageTokens);
  const vqaStage = async (stage: 1 | 2, file: string, epochs: number): Promise<TrainResult> => {
    const samples = await readDataset(file, readOptions);
    const loader = new DataLoader<VqaBatch>(samples, { batchSize: 8, collate, seed, cache });
    const task = new VqaTask(model, stage);
    try {
      return await train(task, loader, parseTrainConfig({ stage, outputDir: join(out, `stage${stage}`), batchSize: 8, epochs, lr: stage === 1 ? 2e-3 : 5e-3, seed }), { progress, label: `stage ${stage}` });
    } finally {
      task.dispose();
    }
  };
  const stage1Result = await vqaStage(1, data.captionsCsv, size.epochs[1]);
  const stage2Result = await vqaStage(2, data.conversationsJson, size.epochs[2]);

  // Evaluation on the held-out slides.
  const benchmark = await readDataset(data.benchmarkJson, readOptions);
  log(`  evaluating ${benchmark.length} questions: the model, blind, shuffled slides`);
  const result = await evaluateBenchmark(model, benchmark, { mode: 'likelihood', seed, cache });
  await writeBenchmarkResult(out, result);
  const summary: DemoSummary = {
    accuracy: result.breakdown.model!.overall.accuracy,
    majorityBaseline: result.majority.accuracy,
    blindAccuracy: result.breakdown.blind!.overall.accuracy,
    shuffledAccuracy: result.breakdown.shuffled!.overall.accuracy,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    out,
  };
  await writeFile(join(out, 'report.html'), renderReport('wsi-vqa demo', [
    evaluationSection(result, summary),
    trainingSection('Stage 0: compressor on slide labels', stage0Result),
    trainingSection('Stage 1: projector on captions', stage1Result),
    trainingSection('Stage 2: projector and LLM on conversations', stage2Result),
  ]));
  log(`  accuracy ${pct(summary.accuracy)} | majority letter ${pct(summary.majorityBaseline)} | blind ${pct(summary.blindAccuracy)} | shuffled slides ${pct(summary.shuffledAccuracy)} | ${summary.seconds} s`);
  log(`  report: ${join(out, 'report.html')}`);
  model.dispose();
  stage0.dispose();
  return summary;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

function evaluationSection(result: BenchmarkResult, summary: DemoSummary): ReportSection {
  const rows = (['model', 'blind', 'shuffled'] as const).map((variant) => {
    const b = result.breakdown[variant]!;
    return [variant, b.overall.accuracy, `${b.overall.low.toFixed(3)} – ${b.overall.high.toFixed(3)}`, ...Object.values(b.narrow).map((a) => a.accuracy)];
  });
  const narrow = Object.keys(result.breakdown.model!.narrow);
  return {
    title: 'Evaluation on held-out slides',
    blocks: [
      { kind: 'text', text: `${result.predictions.model!.length} multiple-choice questions, answered by the likelihood of each letter. Majority letter (${result.majority.letter}): ${pct(summary.majorityBaseline)}.` },
      { kind: 'table', header: ['variant', 'accuracy', '95 % interval', ...narrow], rows },
      { kind: 'svg', svg: accuracyChart(result) },
    ],
  };
}
