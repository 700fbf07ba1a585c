/**
 * A synthetic slide dataset in the real file formats, for the demo and the end-to-end tests:
 * every slide has a tissue of origin and a histologic finding, and its patch features carry them
 * (class-conditional directions on some patches, Gaussian noise on all), so a model can only
 * answer its questions by looking at the slide.
 *
 * Written under `dir`:
 * - `features/<slide>.safetensors`: [patches, 1024] f32 under `features`, with `coords`;
 * - `labels.csv` (stage 0: the tissue label), `captions.csv` (stage 1), `conversations.json`
 *   (stage 2, SlideChat format, multiple-choice turns answered with the letter), all on the
 *   training slides;
 * - `benchmark.json` on held-out slides: multiple choice with broad and narrow categories.
 *
 * As in real cohorts, classes are not equally common: each attribute's values are drawn with
 * skewed frequencies, and the choices are always listed in the same order, so the answer letters
 * are skewed too. Always answering the most frequent letter (or a model that ignores the slide
 * and learns the frequencies) scores well above chance but far below a model that reads the slide.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../io/safetensors.js';
import { choiceLetter, multipleChoicePrompt } from '../data/prompt.js';
import { FEATURE_WIDTH } from '../io/features.js';
import { normalSamples, seededRandom } from '../random.js';

/** The attributes a synthetic slide has, and the question asked about each. */
export const SYNTH_ATTRIBUTES = [
  {
    name: 'tissue',
    values: ['lung', 'breast', 'colon', 'kidney'],
    question: 'Which organ is this tissue from?',
    broad: 'Microscopy',
    narrow: 'Tissue Origin',
  },
  {
    name: 'finding',
    values: ['necrosis', 'lymphocytic infiltration', 'fibrosis', 'mucin pools'],
    question: 'Which histologic finding is most prominent?',
    broad: 'Diagnosis',
    narrow: 'Histologic Finding',
  },
] as const;

/** How common each attribute's values are, in the order listed (and lettered A, B, C, D). */
export const SYNTH_CLASS_WEIGHTS = [0.4, 0.3, 0.2, 0.1] as const;

/** Options of {@link makeSyntheticDataset}. */
export interface SynthOptions {
  /** Slides for training (stages 0–2). Default 96. */
  trainSlides?: number;
  /** Held-out slides the benchmark asks about. Default 32. */
  testSlides?: number;
  /** Patches per slide, drawn uniformly from this range. Default [48, 160]. */
  patches?: [min: number, max: number];
  /** Length of each attribute's direction on the patches that show it (noise has unit variance per dimension, so √1024 = 32 in norm). Default 16. */
  signal?: number;
  /** Fraction of a slide's patches that show each attribute. Default 0.25. */
  showing?: number;
  /** Default 0. */
  seed?: number;
}

/** Where {@link makeSyntheticDataset} put everything, and what it made. */
export interface SynthDataset {
  dir: string;
  featuresDir: string;
  /** Stage 0: `slide_id,label,features_path` with the tissue as the label. */
  labelsCsv: string;
  /** Stage 1: `slide_id,caption,features_path`. */
  captionsCsv: string;
  /** Stage 2: SlideChat JSON, two multiple-choice conversations per training slide. */
  conversationsJson: string;
  /** Evaluation: benchmark JSON, two questions per held-out slide. */
  benchmarkJson: string;
  trainSlides: number;
  testSlides: number;
  questions: number;
}

interface SlideSpec {
  id: string;
  /** Index into each attribute's values. */
  attributes: number[];
}

/** Writes the synthetic dataset under `dir` (created if needed); the same seed writes the same bytes. */
export async function makeSyntheticDataset(dir: string, options: SynthOptions = {}): Promise<SynthDataset> {
  const { trainSlides = 96, testSlides = 32, patches = [48, 160], signal = 16, showing = 0.25, seed = 0 } = options;
  for (const [name, value] of Object.entries({ trainSlides, testSlides })) {
    if (!(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`makeSyntheticDataset: ${name} must be a positive integer, got ${value}`);
  }
  if (!(Number.isSafeInteger(patches[0]) && patches[0] > 0 && patches[1] >= patches[0])) {
    throw new RangeError(`makeSyntheticDataset: patches must be [min, max] with 0 < min ≤ max, got [${patches}]`);
  }
  const featuresDir = join(dir, 'features');
  await mkdir(featuresDir, { recursive: true });

  const directions = SYNTH_ATTRIBUTES.map((attribute, a) => attribute.values.map((_, v) => unitDirection(seededRandom(seed, 1000 + 10 * a + v))));
  const slides = makeSlides(trainSlides + testSlides, seed);
  for (const [index, slide] of slides.entries()) {
    const random = seededRandom(seed, 2_000_000 + index);
    const count = patches[0] + Math.floor(random() * (patches[1] - patches[0] + 1));
    const features = slideFeatures(count, slide.attributes.map((v, a) => directions[a][v]), signal, showing, random);
    const coords = Float32Array.from({ length: 2 * count }, (_, i) => (i % 2 === 0 ? (i / 2) % 32 : Math.floor(i / 64)) * 224);
    await writeSafetensors(join(featuresDir, `${slide.id}.safetensors`), {
      features: { dtype: 'F32', shape: [count, FEATURE_WIDTH], data: features },
      coords: { dtype: 'F32', shape: [count, 2], data: coords },
    });
  }
  const train = slides.slice(0, trainSlides);
  const test = slides.slice(trainSlides);
  // Relative to the dataset files' folder, the readers' default: no --features-dir needed.
  const featurePath = (slide: SlideSpec) => `features/${slide.id}.safetensors`;

  const dataset: SynthDataset = {
    dir,
    featuresDir,
    labelsCsv: join(dir, 'labels.csv'),
    captionsCsv: join(dir, 'captions.csv'),
    conversationsJson: join(dir, 'conversations.json'),
    benchmarkJson: join(dir, 'benchmark.json'),
    trainSlides,
    testSlides,
    questions: test.length * SYNTH_ATTRIBUTES.length,
  };
  await writeFile(dataset.labelsCsv, csv(['slide_id', 'label', 'features_path'], train.map((s) => [s.id, valueOf(s, 0), featurePath(s)])));
  await writeFile(dataset.captionsCsv, csv(['slide_id', 'caption', 'features_path'], train.map((s) => [s.id, caption(s), featurePath(s)])));
  const conversations = train.flatMap((slide) =>
    SYNTH_ATTRIBUTES.map((attribute, a) => {
      const { choices, answer } = multipleChoice(slide, a);
      return {
        id: `${slide.id}-${attribute.name}`,
        image: [featurePath(slide)],
        conversations: [
          // The benchmark's layout, built from the plain choices (they are labelled there, once).
          { from: 'human', value: multipleChoicePrompt(attribute.question, choices) },
          { from: 'gpt', value: answer },
        ],
      };
    }),
  );
  await writeFile(dataset.conversationsJson, `${JSON.stringify(conversations, null, 1)}\n`);
  const samples = test.flatMap((slide) =>
    SYNTH_ATTRIBUTES.map((attribute, a) => {
      const { choices, answer } = multipleChoice(slide, a);
      return {
        slide_id: slide.id,
        question: attribute.question,
        choices: choices.map((c, i) => `${choiceLetter(i)}) ${c}`),
        answer,
        category: `${attribute.broad} - ${attribute.narrow}`,
        features_path: featurePath(slide),
      };
    }),
  );
  await writeFile(dataset.benchmarkJson, `${JSON.stringify({ samples }, null, 1)}\n`);
  return dataset;
}

/** Slides whose attribute values are drawn independently with {@link SYNTH_CLASS_WEIGHTS}. */
function makeSlides(count: number, seed: number): SlideSpec[] {
  const random = seededRandom(seed, 1);
  const draw = () => {
    let r = random();
    let v = 0;
    while (v < SYNTH_CLASS_WEIGHTS.length - 1 && r >= SYNTH_CLASS_WEIGHTS[v]) r -= SYNTH_CLASS_WEIGHTS[v++];
    return v;
  };
  return Array.from({ length: count }, (_, i) => ({ id: `SYN-${String(i).padStart(4, '0')}`, attributes: SYNTH_ATTRIBUTES.map(draw) }));
}

/** [count, 1024] features: N(0, 1) noise, plus `signal`·direction on a `showing` share of patches per attribute. */
function slideFeatures(count: number, directions: Float32Array[], signal: number, showing: number, random: () => number): Float32Array {
  const features = normalSamples(count * FEATURE_WIDTH, 1, random);
  for (const direction of directions) {
    for (let n = 0; n < count; n++) {
      if (random() >= showing) continue;
      const row = features.subarray(n * FEATURE_WIDTH, (n + 1) * FEATURE_WIDTH);
      for (let d = 0; d < FEATURE_WIDTH; d++) row[d] += signal * direction[d];
    }
  }
  return features;
}

function unitDirection(random: () => number): Float32Array {
  const v = normalSamples(FEATURE_WIDTH, 1, random);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function valueOf(slide: SlideSpec, attribute: number): string {
  return SYNTH_ATTRIBUTES[attribute].values[slide.attributes[attribute]];
}

function caption(slide: SlideSpec): string {
  return `Section of ${valueOf(slide, 0)} tissue with ${valueOf(slide, 1)}.`;
}

/** The attribute's values as choices, in their fixed order; the answer is the slide's value's letter. */
function multipleChoice(slide: SlideSpec, attribute: number): { choices: string[]; answer: string } {
  return { choices: [...SYNTH_ATTRIBUTES[attribute].values], answer: choiceLetter(slide.attributes[attribute]) };
}

function csv(header: string[], rows: string[][]): string {
  const cell = (text: string) => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  return [header, ...rows].map((row) => row.map(cell).join(',')).join('\n') + '\n';
}
