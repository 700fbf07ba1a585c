/**
 * Checkpoint folders, written atomically: everything goes into a temporary folder beside the
 * target, which is renamed into place only once complete, so a save killed part-way leaves the
 * previous checkpoints as they were. `<out>/step-<n>/` during a run, `<out>/final/` at its end;
 * each holds the task's weights, `optimizer.safetensors` and `trainer_state.json`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, IoError } from '../errors.js';
import type { TrainConfig } from './config.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const FINAL_CHECKPOINT = 'final';

/** Where a run stands: enough to continue it exactly. */
export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  /** The epoch to continue in, and the micro-batches of it already consumed. */
  epoch: number;
  batchInEpoch: number;
  totalSteps: number;
  config: TrainConfig;
}

/** The folder name of the checkpoint after `step` optimizer steps. */
export function stepCheckpointName(step: number): string {
  return `step-${step}`;
}

/**
 * Writes a checkpoint folder `<outputDir>/<name>` atomically: `fill(dir)` writes the files into a
 * temporary folder, the trainer state goes last, then the folder replaces any old one of that name.
 */
export async function writeCheckpoint(outputDir: string, name: string, state: TrainerState, fill: (dir: string) => Promise<void>): Promise<string> {
  const target = join(outputDir, name);
  const temporary = join(outputDir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temporary, { recursive: true });
    await fill(temporary);
    await writeFile(join(temporary, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    if (existsSync(target)) {
      const old = `${temporary}.old`;
      await rename(target, old);
      await rename(temporary, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temporary, target);
    }
    return target;
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error instanceof IoError ? error : new IoError(`${target}: cannot write the checkpoint (${(error as Error).message})`, { cause: error });
  }
}

/** The most advanced complete checkpoint under `outputDir` (by its trainer state's step), or undefined when there is none. */
export async function latestCheckpoint(outputDir: string): Promise<{ dir: string; state: TrainerState } | undefined> {
  if (!existsSync(outputDir)) return undefined;
  let best: { dir: string; state: TrainerState } | undefined;
  for (const entry of await readdir(outputDir)) {
    if (entry.startsWith('.') || !(entry === FINAL_CHECKPOINT || /^step-\d+$/.test(entry))) continue;
    const file = join(outputDir, entry, TRAINER_STATE_FILE);
    if (!existsSync(file)) continue;
    const state = await readTrainerState(file);
    if (!best || state.step > best.state.step) best = { dir: join(outputDir, entry), state };
  }
  return best;
}

async function readTrainerState(file: string): Promise<TrainerState> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as TrainerState;
    if (![state.step, state.epoch, state.batchInEpoch, state.totalSteps].every(Number.isSafeInteger)) throw new Error('step, epoch, batchInEpoch or totalSteps is not an integer');
    return state;
  } catch (error) {
    throw new FormatError(`${file}: not a trainer state (${(error as Error).message})`, { cause: error });
  }
}
