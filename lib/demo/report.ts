/**
 * The demo's report, written for a reader who knows pathology rather than this code: what was
 * trained on what, what each baseline means, the results per category with counts and
 * intervals, a few questions with the model's answers, and the run's settings.
 */
import type { Accuracy, AccuracyBreakdown } from '../eval/accuracy.js';
import { type BenchmarkResult, type EvalVariant, accuracyChart } from '../eval/benchmark.js';
import type { ReportSection } from '../report/html.js';

/** The settings of a demo run, as the report shows them. */
export interface DemoSettings {
  trainSlides: number;
  questions: number;
  patches: [number, number];
  epochs: readonly number[];
  lr: readonly number[];
  compressorLr?: number;
  batchSize: number;
  seed: number;
  slots: number;
  /** The compressor experts' inner width (TC-SSA's is 512). */
  expertWidth: number;
  llm: string;
  seconds: number;
}

const VARIANTS = ['model', 'blind', 'shuffled'] as const satisfies readonly EvalVariant[];

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–';
}

/** "87.5 % (56/64; 79.7–95.3 %)": the share, the counts and the 95 % interval. */
function describe(a: Accuracy | undefined): string {
  if (!a || a.questions === 0) return '–';
  return `${pct(a.accuracy)} (${a.correct}/${a.questions}; ${(100 * a.low).toFixed(1)}–${pct(a.high)})`;
}

/** Per narrow category, each answerer's accuracy: what `wsi-vqa demo --json` reports. */
export function categorySummary(result: BenchmarkResult): Record<string, { model: number; blind: number; shuffled: number; majority: number; questions: number }> {
  const model = result.breakdown.model!;
  return Object.fromEntries(
    Object.entries(model.narrow).map(([name, a]) => [
      name,
      {
        model: a.accuracy,
        blind: result.breakdown.blind?.narrow[name]?.accuracy ?? NaN,
        shuffled: result.breakdown.shuffled?.narrow[name]?.accuracy ?? NaN,
        majority: result.majority.breakdown.narrow[name]?.accuracy ?? NaN,
        questions: a.questions,
      },
    ]),
  );
}

/** What the demo is, and the words the rest of the report uses. */
export function introSection(settings: DemoSettings, trainCompressor: boolean): ReportSection {
  return {
    title: 'What this is',
    blocks: [
      {
        kind: 'text',
        text:
          `A demonstration of the pipeline on synthetic data, not a model of real tissue. ${settings.trainSlides} synthetic "slides" were made, each a set of ` +
          `${settings.patches[0]}–${settings.patches[1]} patch feature vectors (1024 numbers each, as a pathology foundation model would give) in which two ` +
          'attributes are hidden: the tissue of origin (lung, breast, colon, kidney) and the most prominent histologic finding (necrosis, lymphocytic ' +
          'infiltration, fibrosis, mucin pools). Like real cohorts, the values are not equally common (40, 30, 20 and 10 %).',
      },
      {
        kind: 'text',
        text:
          `The language model is a tiny Qwen3 (${settings.llm}) with random weights: it knows no language and no pathology, and learns only what these ` +
          `questions need. Stage 0 trains the slide compressor (${settings.slots} tokens per slide) to tell the tissue of origin; stage 1 trains the ` +
          'projector into the language model on one-line captions; stage 2 trains the projector and the language model to answer multiple-choice ' +
          `questions about both attributes with a letter. ${trainCompressor ? 'The compressor keeps training in stages 1 and 2.' : 'The compressor is frozen after stage 0.'} ` +
          `The test questions are about ${settings.questions / 2} held-out slides no stage saw.`,
      },
      {
        kind: 'table',
        header: ['term', 'meaning'],
        rows: [
          ['model', 'the trained model, shown the slide the question is about'],
          ['blind', 'the same model with the slide left out of the prompt: what it answers from the question text alone'],
          ['shuffled', "the same model shown another test slide than the question's: it should then do no better than the majority letter"],
          ['majority letter', "always answering each category's most frequent correct letter (the answers are skewed, so this beats chance)"],
          ['chance', 'guessing: 1 in 4 choices, 25 %'],
          ['likelihood', 'how an answer is read: the letter (A–D) the model finds most probable as its reply, so every answer is one of the choices'],
          ['95 % interval', 'the range of accuracies a bootstrap over the questions gives 95 % of the time: with few questions it is wide'],
        ],
      },
    ],
  };
}

/** The results: per category, each answerer's accuracy with counts and intervals, and the chart. */
export function evaluationSection(result: BenchmarkResult): ReportSection {
  const model = result.breakdown.model!;
  const row = (name: string, pick: (b: AccuracyBreakdown) => Accuracy | undefined) => [
    name,
    pick(model)?.questions ?? 0,
    ...VARIANTS.map((v) => describe(result.breakdown[v] && pick(result.breakdown[v]!))),
    describe(pick(result.majority.breakdown)),
  ];
  const rows = [row('overall', (b) => b.overall), ...Object.keys(model.narrow).map((name) => row(name, (b) => b.narrow[name]))];
  return {
    title: 'Results on held-out slides',
    blocks: [
      {
        kind: 'text',
        text: `${result.predictions.model!.length} multiple-choice questions, answered by likelihood. Each cell: accuracy (right/asked; 95 % interval). The majority letter is ${result.majority.letter} overall (${Object.entries(result.majority.letters.narrow).map(([c, l]) => `${l} for ${c}`).join(', ')}).`,
      },
      { kind: 'table', header: ['category', 'questions', 'model', 'blind', 'shuffled', 'majority letter'], rows },
      { kind: 'svg', svg: accuracyChart(result) },
    ],
  };
}

/** A few questions per category with what the model, blind and shuffled answered. */
export function examplesSection(result: BenchmarkResult, perCategory = 3): ReportSection {
  const model = result.predictions.model!;
  const byId = (v: EvalVariant) => new Map((result.predictions[v] ?? []).map((p) => [p.id, p]));
  const [blind, shuffled] = [byId('blind'), byId('shuffled')];
  const categories = [...new Set(model.map((p) => p.narrowCategory ?? ''))];
  const picked = categories.flatMap((c) => model.filter((p) => (p.narrowCategory ?? '') === c).slice(0, perCategory));
  const mark = (p?: { predicted: string | null; correct: boolean }) => (p ? `${p.predicted ?? '?'} ${p.correct ? '✓' : '✗'}` : '–');
  return {
    title: 'Example questions',
    blocks: [
      { kind: 'text', text: `The first ${perCategory} test questions of each category, with the right letter and each answerer's letter (✓ right, ✗ wrong).` },
      {
        kind: 'table',
        header: ['slide', 'question', 'choices', 'right', 'model', 'blind', 'shuffled (slide shown)'],
        rows: picked.map((p) => [
          p.slideId,
          p.question.replace('<image>', '').split('\n').find((line) => line.trim() !== '') ?? '',
          p.choices.join('  '),
          p.answer,
          mark(p),
          mark(blind.get(p.id)),
          `${mark(shuffled.get(p.id))} (${shuffled.get(p.id)?.shownSlide ?? '–'})`,
        ]),
      },
    ],
  };
}

/** Everything needed to run it again. */
export function settingsSection(settings: DemoSettings): ReportSection {
  const stages = ['stage 0', 'stage 1', 'stage 2'];
  return {
    title: 'Run settings',
    blocks: [
      {
        kind: 'table',
        header: ['setting', 'value'],
        rows: [
          ['training slides / test questions', `${settings.trainSlides} / ${settings.questions}`],
          ['patches per slide', `${settings.patches[0]}–${settings.patches[1]}`],
          ['slide tokens (compressor slots)', settings.slots],
          ['compressor expert width', `${settings.expertWidth} (TC-SSA: 512)`],
          ['epochs', stages.map((s, i) => `${s}: ${settings.epochs[i]}`).join(', ')],
          ['peak learning rate (warmup 10 %, cosine decay)', stages.map((s, i) => `${s}: ${settings.lr[i]}`).join(', ')],
          ['compressor in stages 1–2', settings.compressorLr === undefined ? 'frozen' : `trained, learning rate ${settings.compressorLr}`],
          ['batch size (slides or conversations)', settings.batchSize],
          ['language model', `random tiny Qwen3: ${settings.llm}`],
          ['seed', settings.seed],
          ['wall time', `${settings.seconds} s`],
        ],
      },
    ],
  };
}
