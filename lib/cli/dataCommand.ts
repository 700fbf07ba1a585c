/** `wsi-vqa data …`: commands about datasets. */
import type { Command } from 'commander';
import { type DatasetCheck, checkDataset } from '../data/check.js';
import { featuresFolder } from '../data/dataset.js';

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
      const { ok, samples, problems } = result; // --json keeps the shape that scripts already read
      process.stdout.write(options.json ? `${JSON.stringify({ ok, samples, problems }, null, 2)}\n` : describeCheck(result, featuresFolder(file, options)));
      if (!result.ok) process.exitCode = 1;
    });
  return data;
}

/** Kinds of problem listed after the summary: the most frequent, when one comes more than once. */
const KINDS_LISTED = 5;

/**
 * The human-readable report: one `file:row: message` line per problem, then a summary line, the
 * kinds of problem that repeat (a dataset of thousands of rows shows the same one thousands of
 * times) and, when none of the feature files exists, where they were looked for.
 */
function describeCheck(result: DatasetCheck, featuresDir: string): string {
  const lines = result.problems.map((p) => `${p.file}:${p.row}: ${p.message}`);
  const rows = new Set(result.problems.map((p) => p.row)).size;
  lines.push(result.ok ? `ok: ${result.samples} samples, no problems` : `${result.problems.length} problem(s) in ${rows} row(s); ${result.samples} samples read`);
  const repeated = result.kinds.filter(({ count }) => count > 1);
  if (repeated.length > 0) lines.push('most frequent:', ...repeated.slice(0, KINDS_LISTED).map(({ kind, count }) => `  ${count} × ${kind}`));
  const { named, missing } = result.featureFiles;
  if (named > 0 && missing === named) {
    lines.push(`none of the ${named} feature files the samples name exists: are they in ${featuresDir}? (--features-dir names the folder that feature paths are relative to)`);
  }
  return `${lines.join('\n')}\n`;
}
