/** `wsi-vqa ask`: one question about one slide, the answer streamed as it is generated. */
import type { Command } from 'commander';
import { withImagePlaceholder } from '../data/prompt.js';
import { readSlideFeatures } from '../io/features.js';
import { generate } from '../model/generate.js';
import { type ModelFlags, loadModel, withModelOptions } from './modelOptions.js';
import { nonNegativeNumberOption, positiveIntegerOption } from './options.js';

interface AskFlags extends ModelFlags {
  slide: string;
  question: string;
  maxNewTokens: number;
  temperature: number;
  maxPatches?: number;
}

export function registerAskCommand(program: Command): Command {
  const command = program
    .command('ask')
    .description('ask a question about a slide')
    .requiredOption('--slide <file>', 'the slide\'s patch features (.pt, .npy, .safetensors, .h5, .csv)')
    .requiredOption('--question <text>', 'the question')
    .option('--max-new-tokens <n>', 'longest answer', positiveIntegerOption, 256)
    .option('--temperature <x>', '0 for greedy', nonNegativeNumberOption, 0)
    .option('--max-patches <n>', 'patches kept, evenly spaced', positiveIntegerOption);
  withModelOptions(command);
  return command.action(async (flags: AskFlags) => {
    const model = await loadModel(flags);
    const slide = await readSlideFeatures(flags.slide, { maxPatches: flags.maxPatches });
    const { prompt, release } = model.prompt({ turns: [{ role: 'user', text: withImagePlaceholder(flags.question) }] }, slide);
    const { tokenizer } = model;
    let printed = '';
    const tokens: number[] = [];
    generate(model.llm, [prompt], {
      maxNewTokens: flags.maxNewTokens,
      temperature: flags.temperature,
      onToken: (_, token) => {
        tokens.push(token);
        const text = tokenizer.decode(tokens, { skipSpecialTokens: true });
        process.stdout.write(text.slice(printed.length));
        printed = text;
      },
    });
    process.stdout.write('\n');
    release();
    model.dispose();
  });
}
