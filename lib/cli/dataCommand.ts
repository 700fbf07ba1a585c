/** `wsi-vqa data …`: commands about datasets. */
import type { Command } from 'commander';
import { type DatasetCheck, checkDataset } from '../data/check.js';

/**
 * Adds `data check <file> [--features-dir D] [--json]` to `program`: prints every problem of the
 * dataset (file:row: message) and a summary, or with `--json` the {@link DatasetCheck} object;
 * sets the exit code to 1 when there is any problem. Returns the `data` command.
 */
export function registerDataCommand(program: Command): Command {
  const data = program.command('data').description('inspect datasets');
  data
    .command('check')
    .description('find every problem in a dataset: unreadable rows, missing or bad feature files, prompts without <image>, answers not among the choices')
    .argument('<file>', 'dataset file (.json, .jsonl, .csv)')
    .option('--features-dir <dir>', 'folder that feature paths are relative to (default: the dataset file\'s folder)')
    .option('--json', 'print the result as JSON: {ok, samples, problems: [{file, row, message}]}')
    .action(async (file: string, options: { featuresDir?: string; json?: boolean }) => {
      const result = await checkDataset(file, { featuresDir: options.featuresDir });
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : describeCheck(result));
      if (!result.ok) process.exitCode = 1;
    });
  return data;
}

/** The human-readable report: one `file:row: message` line per problem, then a summary line. */
function describeCheck(result: DatasetCheck): string {
  const lines = result.problems.map((p) => `${p.file}:${p.row}: ${p.message}`);
  const rows = new Set(result.problems.map((p) => p.row)).size;
  lines.push(result.ok ? `ok: ${result.samples} samples, no problems` : `${result.problems.length} problem(s) in ${rows} row(s); ${result.samples} samples read`);
  return `${lines.join('\n')}\n`;
}
