/**
 * The VQA model: the MoE compressor (frozen after stage 0) turns each slide into K
 * tokens, the projector maps them into the LLM's embedding space, and they replace the K
 * image-pad tokens of the prompt. This class holds the three parts and the tokenizer, and
 * answers questions: by generation, or by scoring each choice (likelihood).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadCompressor, randomCompressor } from '../compressorState.js';
import type { Sample } from '../data/sample.js';
import type { SlideFeatures } from '../io/features.js';
import type { MoeCompressor } from '../moe.js';
import type { Device } from '../native.js';
import type { ProjectorWeights } from '../projector.js';
import { loadProjector, randomProjector } from '../projectorState.js';
import { type GenerateOptions, type GenerationPrompt, generate, scoreContinuations } from '../model/generate.js';
import { Qwen3Model } from '../model/qwen3Model.js';
import { type QwenTokenizer, loadTokenizer } from '../text/tokenizer.js';
import { choiceLetter } from '../data/prompt.js';
import { questionPrompt } from './batches.js';
import { type SlideEmbeddings, embedSlides, releaseSlideEmbeddings } from './slideTokens.js';

/** Where the parts come from. */
export interface VqaModelSources {
  /** A Hugging Face Qwen3 folder (its tokenizer too, or the bundled Qwen3 tokenizer when it has none). */
  llmPath: string;
  /** `compressor.safetensors` or TC-SSA's `moe_best.pt`; a random compressor (seeded) when absent. */
  compressorPath?: string;
  /** `projector.safetensors` or a PyTorch `projector.pt`; a random projector (seeded) when absent. */
  projectorPath?: string;
  device?: Device;
  /** Seed of the random parts. Default 0. */
  seed?: number;
  /** Routing top-k of the compressor. Default 2. */
  topK?: number;
}

/** How a question is answered. */
export interface AnswerOptions {
  /** Leave the slide out: the blind baseline. */
  blind?: boolean;
}

export class VqaModel {
  readonly compressor: MoeCompressor;
  readonly projector: ProjectorWeights;
  readonly llm: Qwen3Model;
  readonly tokenizer: QwenTokenizer;
  readonly llmPath: string;

  constructor(parts: { compressor: MoeCompressor; projector: ProjectorWeights; llm: Qwen3Model; tokenizer: QwenTokenizer; llmPath: string }) {
    this.compressor = parts.compressor;
    this.projector = parts.projector;
    this.llm = parts.llm;
    this.tokenizer = parts.tokenizer;
    this.llmPath = parts.llmPath;
  }

  static async load(sources: VqaModelSources): Promise<VqaModel> {
    const device = sources.device ?? 'cpu';
    const seed = sources.seed ?? 0;
    const llm = await Qwen3Model.load(sources.llmPath, { device, dtype: device === 'cpu' ? 'f32' : 'bf16' });
    const hasTokenizer = existsSync(join(sources.llmPath, 'tokenizer.json'));
    const tokenizer = await loadTokenizer(hasTokenizer ? sources.llmPath : undefined);
    const compressor = sources.compressorPath
      ? await loadCompressor(sources.compressorPath, { device, topK: sources.topK })
      : randomCompressor({ device, seed, topK: sources.topK });
    const hidden = llm.config.hidden_size;
    const projector = sources.projectorPath ? await loadProjector(sources.projectorPath, hidden, { device }) : randomProjector(hidden, seed + 1, { device });
    return new VqaModel({ compressor, projector, llm, tokenizer, llmPath: sources.llmPath });
  }

  /** K: slide tokens per slide. */
  get imageTokens(): number {
    return this.compressor.slots;
  }

  get device(): Device {
    return this.llm.device;
  }

  /** One slide's K embeddings (K, hidden) and what the projector's backward would need. */
  embedSlide(slide: Pick<SlideFeatures, 'features' | 'patches'>): SlideEmbeddings {
    return embedSlides(this.compressor, this.projector, { features: slide.features, patchOffsets: Int32Array.of(0, slide.patches) }, this.device);
  }

  /** The prompt of a question about `slide` (omitted when blind), ready for generation or scoring. */
  prompt(sample: Pick<Sample, 'turns'>, slide: Pick<SlideFeatures, 'features' | 'patches'>, options: AnswerOptions = {}): { prompt: GenerationPrompt; release: () => void } {
    const tokenized = questionPrompt(this.tokenizer, sample, this.imageTokens, options);
    if (options.blind) return { prompt: { ids: tokenized.inputIds }, release: () => undefined };
    const slideEmbeddings = this.embedSlide(slide);
    return {
      prompt: { ids: tokenized.inputIds, image: { embeds: slideEmbeddings.embeds, rows: Int32Array.from(tokenized.imagePositions) } },
      release: () => releaseSlideEmbeddings(slideEmbeddings),
    };
  }

  /** The generated answer to a question about `slide`, decoded (special tokens dropped); greedy unless the options sample. */
  answer(sample: Pick<Sample, 'turns'>, slide: Pick<SlideFeatures, 'features' | 'patches'>, options: AnswerOptions & GenerateOptions = {}): string {
    const { prompt, release } = this.prompt(sample, slide, options);
    try {
      const [tokens] = generate(this.llm, [prompt], { maxNewTokens: 32, temperature: 0, ...options });
      return this.tokenizer.decode(tokens, { skipSpecialTokens: true }).trim();
    } finally {
      release();
    }
  }

  /**
   * The letter of the most likely choice of a closed question: each letter followed by
   * `<|im_end|>` is scored as the answer (as the training answers are written).
   */
  chooseLetter(sample: Pick<Sample, 'turns' | 'choices'>, slide: Pick<SlideFeatures, 'features' | 'patches'>, options: AnswerOptions = {}): { letter: string; scores: number[] } {
    const choices = sample.choices ?? [];
    if (choices.length === 0) throw new RangeError('chooseLetter: the sample has no choices');
    const { prompt, release } = this.prompt(sample, slide, options);
    try {
      const continuations = choices.map((_, i) => Int32Array.from([...this.tokenizer.encode(choiceLetter(i)), this.tokenizer.ids.imEnd]));
      const scores = scoreContinuations(this.llm, prompt, continuations);
      const best = scores.indexOf(Math.max(...scores));
      return { letter: choiceLetter(best), scores };
    } finally {
      release();
    }
  }

  dispose(): void {
    this.compressor.dispose();
    for (const t of Object.values(this.projector)) t.dispose();
    this.llm.dispose();
  }
}
