/** `wsi-vqa ask`: one question about one slide, the answer streamed as it is generated. */
import type { Command } from 'commander';
import { ask } from '../api/ask.js';
import { type ModelFlags, modelSources, withModelOptions } from './modelOptions.js';
import { integerOption, nonNegativeNumberOption, positiveIntegerOption, positiveNumberOption } from './options.js';

interface AskFlags extends ModelFlags {
  slide: string;
  question: string;
  maxNewTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed: number;
  maxPatches?: number;
}

export function registerAskCommand(program: Command): Command {
  const command = program
    .command('ask')
    .description('ask a question about a slide')
    .requiredOption('--slide <file>', 'the slide\'s patch features (.pt, .npy, .safetensors, .h5, .csv)')
    .requiredOption('--question <text>', 'the question')
    .option('--max-new-tokens <n>', 'longest answer', positiveIntegerOption, 256)
    .option('--temperature <x>', "0 for greedy (default: the model's generation_config.json; greedy without one)", nonNegativeNumberOption)
    .option('--top-k <n>', 'sample among the k most likely tokens', positiveIntegerOption)
    .option('--top-p <p>', 'sample among the most likely tokens whose probabilities add up to p', positiveNumberOption)
    .option('--seed <n>', 'sampling seed', integerOption, 0)
    .option('--max-patches <n>', 'patches kept, evenly spaced', positiveIntegerOption);
  withModelOptions(command);
  return command.action(async (flags: AskFlags) => {
    await ask({
      ...modelSources(flags),
      slidePath: flags.slide,
      question: flags.question,
      maxNewTokens: flags.maxNewTokens,
      maxPatches: flags.maxPatches,
      temperature: flags.temperature,
      topK: flags.topK,
      topP: flags.topP,
      seed: flags.seed,
      onText: (text) => process.stdout.write(text),
    });
    process.stdout.write('\n');
  });
}
