/**
 * Choosing the checkpoint a run resumes from: the newest one that loads, falling back past
 * damaged ones (and saying so), and only when the run that wrote it is this run (`runRecord.ts`).
 */
import { ConfigError, FormatError, IoError, TrainingError } from '../errors.js';
import { type TrainerState, findCheckpoints } from './checkpoints.js';
import { type RunRecord, runDifferences } from './runRecord.js';

export interface ResumeOptions {
  /** Continue a checkpoint even when it was written by a run that differs from this one. */
  anyway?: boolean;
  /** Where to say what was skipped or overridden. */
  log: (message: string) => void;
}

/**
 * Loads the newest checkpoint under `outputDir` that `load` can read and returns it, or undefined
 * when there is none. A damaged checkpoint (see `findCheckpoints`), or one whose files `load`
 * rejects with a {@link FormatError} or {@link IoError}, is skipped for the next older one; every
 * trained parameter and the optimizer state are then loaded again from that one. Throws
 * {@link ConfigError} naming each difference when the checkpoint is another run's (unless
 * `anyway`), and {@link TrainingError} when checkpoints exist but none can be loaded.
 */
export async function resumeFromCheckpoint(
  outputDir: string,
  run: RunRecord,
  load: (dir: string, state: TrainerState) => Promise<void>,
  options: ResumeOptions,
): Promise<{ dir: string; state: TrainerState } | undefined> {
  const found = await findCheckpoints(outputDir);
  const skipped: string[] = [];
  let compared = false;
  for (const checkpoint of found) {
    if (checkpoint.state === undefined) {
      skipped.push(`${checkpoint.dir} is damaged (${checkpoint.damage})`);
      continue;
    }
    if (!compared) {
      compared = true;
      const differences = runDifferences(checkpoint.state.run, checkpoint.state.config, run);
      if (differences.length > 0 && !options.anyway) {
        throw new ConfigError(
          `${checkpoint.dir} is a checkpoint of another run (${differences.join('; ')}): resuming it would continue that run, not this one. ` +
            'Use another output folder, or resume anyway on purpose (--resume-anyway)',
        );
      }
      if (differences.length > 0) options.log(`resuming anyway from a checkpoint of a run that differs: ${differences.join('; ')}`);
    }
    try {
      await load(checkpoint.dir, checkpoint.state);
    } catch (error) {
      if (!(error instanceof FormatError || error instanceof IoError)) throw error;
      skipped.push(`${checkpoint.dir} cannot be loaded (${error.message})`);
      continue;
    }
    if (skipped.length > 0) options.log(`skipped ${skipped.join('; ')}; resuming from the newest good checkpoint, ${checkpoint.dir}`);
    return { dir: checkpoint.dir, state: checkpoint.state };
  }
  if (found.length > 0) {
    throw new TrainingError(`${outputDir}: no checkpoint there can be resumed: ${skipped.join('; ')}. Remove them to start afresh, or use another output folder`);
  }
  return undefined;
}
