/** One question about one slide, as `wsi-vqa ask` asks it (the command calls this). */
import { withImagePlaceholder } from '../data/prompt.js';
import { readSlideFeatures } from '../io/features.js';
import { generate } from '../model/generate.js';
import type { SamplingOptions } from '../model/sampling.js';
import { VqaModel, type VqaModelSources } from '../vqa/vqaModel.js';

/** Options of {@link ask}. */
export interface AskOptions extends VqaModelSources, SamplingOptions {
  /** The slide's patch features (.pt, .npy, .safetensors, .h5, .csv). */
  slidePath: string;
  /** The question; the slide's tokens go before it unless it places `<image>` itself. */
  question: string;
  /** Longest answer in tokens. Default 256. */
  maxNewTokens?: number;
  /** Patches kept, evenly spaced. Default: all. */
  maxPatches?: number;
  /** Called with each new piece of the answer's text as it is generated (streaming). */
  onText?: (text: string) => void;
}

/**
 * The model's answer, decoded without special tokens. Sampling follows the options, else the
 * model's `generation_config.json` (as transformers does), else greedy decoding.
 */
export async function ask(options: AskOptions): Promise<string> {
  const slide = await readSlideFeatures(options.slidePath, { maxPatches: options.maxPatches });
  const model = await VqaModel.load(options);
  try {
    const { prompt, release } = model.prompt({ turns: [{ role: 'user', text: withImagePlaceholder(options.question) }] }, slide);
    const { tokenizer } = model;
    const answer: number[] = [];
    let printed = '';
    try {
      generate(model.llm, [prompt], {
        maxNewTokens: options.maxNewTokens ?? 256,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
        seed: options.seed,
        onToken: (_, token) => {
          answer.push(token);
          if (!options.onText) return;
          // Decoded whole each time: a character may span tokens.
          const text = tokenizer.decode(answer, { skipSpecialTokens: true });
          options.onText(text.slice(printed.length));
          printed = text;
        },
      });
    } finally {
      release();
    }
    return tokenizer.decode(answer, { skipSpecialTokens: true });
  } finally {
    model.dispose();
  }
}
