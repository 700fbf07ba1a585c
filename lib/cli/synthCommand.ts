/** `wsi-vqa synth`: writes the synthetic slide dataset the demo trains on. */
import type { Command } from 'commander';
import { makeSyntheticDataset } from '../demo/synth.js';
import { integerOption, positiveIntegerOption } from './options.js';

/** Adds `synth --out D [--train-slides N] [--test-slides N] [--seed N] [--json]` to `program`. */
export function registerSynthCommand(program: Command): Command {
  return program
    .command('synth')
    .description('write a synthetic slide dataset in the real formats: features, slide labels, captions, SlideChat conversations, a multiple-choice benchmark')
    .requiredOption('--out <dir>', 'folder to write it into')
    .option('--train-slides <n>', 'training slides', positiveIntegerOption, 96)
    .option('--test-slides <n>', 'held-out slides the benchmark asks about', positiveIntegerOption, 32)
    .option('--seed <n>', 'the same seed writes the same bytes', integerOption, 0)
    .option('--json', 'print where each file went as JSON')
    .action(async (options: { out: string; trainSlides: number; testSlides: number; seed: number; json?: boolean }) => {
      const data = await makeSyntheticDataset(options.out, { trainSlides: options.trainSlides, testSlides: options.testSlides, seed: options.seed });
      if (options.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      else {
        process.stdout.write(
          [
            `wrote ${data.trainSlides + data.testSlides} slides to ${data.featuresDir}`,
            `  stage 0 (slide labels):  ${data.labelsCsv}`,
            `  stage 1 (captions):      ${data.captionsCsv}`,
            `  stage 2 (conversations): ${data.conversationsJson}`,
            `  benchmark (${data.questions} questions): ${data.benchmarkJson}`,
          ].join('\n') + '\n',
        );
      }
    });
}
