/**
 * How the command reports a failure: one line `error: <message>; <hint>` on stderr and exit
 * code 1, the hint saying what to do about that class of error. The stack trace only with
 * `--verbose` or `WSI_VQA_VERBOSE=1`: a missing file is the user's to fix, not a crash.
 */
import { type ErrorCode, WsiVqaError } from '../errors.js';

/** What to do about each class of error. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  CONFIG_ERROR: 'see the command\'s --help',
  IO_ERROR: 'check the path',
  FORMAT_ERROR: 'wsi-vqa data check <file> lists every problem of a dataset',
  UNSUPPORTED: 'wsi-vqa info lists the ops of each backend',
  OUT_OF_MEMORY: 'try a smaller --batch-size or --max-patches, or more --gradient-accumulation-steps',
  CUDA_ERROR: 'wsi-vqa info shows the GPUs; rerun with --verbose for the stack',
  TRAINING_ERROR: 'try a lower --lr; the last checkpoint is intact (--resume)',
  DISTRIBUTED_ERROR: 'every rank must run the same command; wsi-vqa launch starts them',
  DISPOSED: 'rerun with --verbose and report it: this is a bug',
  SHAPE_MISMATCH: 'rerun with --verbose and report it if the inputs look right',
  DTYPE_MISMATCH: 'rerun with --verbose and report it if the inputs look right',
};

/** Whether the user asked for stack traces. */
export function verboseErrors(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--verbose') || (env.WSI_VQA_VERBOSE !== undefined && env.WSI_VQA_VERBOSE !== '' && env.WSI_VQA_VERBOSE !== '0');
}

/** The text printed for `error`: one line, or the stack too when `verbose`. */
export function describeError(error: unknown, verbose: boolean): string {
  if (!(error instanceof Error)) return `error: ${String(error)}`;
  const hint = error instanceof WsiVqaError ? HINTS[error.code] : error instanceof TypeError || error instanceof RangeError ? 'see the command\'s --help' : 'rerun with --verbose and report it: this is a bug';
  const line = `error: ${error.message}${hint ? `; ${hint}` : ''}`;
  return verbose && error.stack ? `${line}\n${error.stack}` : line;
}
