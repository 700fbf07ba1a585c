/**
 * Checkpoint folders, written atomically and durably: everything goes into a temporary folder
 * beside the target, every file and folder of it is flushed to disk, and only then is it renamed
 * into place (the rename flushed too), so a save killed part-way, or a machine that loses power,
 * leaves the previous checkpoints as they were. `<out>/step-<n>/` during a run, `<out>/final/` at
 * its end; each holds the task's weights, `optimizer.safetensors` and `trainer_state.json`.
 *
 * Reading them back, a damaged checkpoint (an unreadable trainer state, a truncated safetensors
 * file) is reported as such rather than thrown, so that a resume can fall back to an older one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, IoError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';
import { openSafetensors } from '../io/safetensors.js';
import type { TrainConfig } from './config.js';
import type { RunRecord } from './runRecord.js';

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
  /** What the run was started with; absent in checkpoints written before it was recorded. */
  run?: RunRecord;
}

/** A checkpoint folder found in an output folder: its trainer state, or why it cannot be resumed from. */
export type FoundCheckpoint = { dir: string; state: TrainerState; damage?: undefined } | { dir: string; state?: undefined; damage: string };

/** The folder name of the checkpoint after `step` optimizer steps. */
export function stepCheckpointName(step: number): string {
  return `step-${step}`;
}

/** `.<name>.tmp-<pid>-<random>`: the temporary folder a checkpoint is written into (with `.old` appended: the one it replaces, while it is replaced). */
const TEMPORARY_FOLDER = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+(\.old)?$/;

/**
 * Writes a checkpoint folder `<outputDir>/<name>` atomically: `fill(dir)` writes the files into a
 * temporary folder, the trainer state goes last, everything is flushed to disk, then the folder
 * replaces any old one of that name.
 */
export async function writeCheckpoint(outputDir: string, name: string, state: TrainerState, fill: (dir: string) => Promise<void>): Promise<string> {
  const target = join(outputDir, name);
  const temporary = join(outputDir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temporary, { recursive: true });
    await fill(temporary);
    await writeDurably(join(temporary, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    // The task's files may not all be flushed (JSON, tokenizer files): flush every file and folder.
    await syncTree(temporary);
    if (existsSync(target)) {
      // A folder cannot be renamed over a non-empty one: move the old one aside first. A run
      // killed between the two renames leaves it there, and the next start puts it back.
      const old = `${temporary}.old`;
      await rename(target, old);
      await rename(temporary, target);
      await syncPath(outputDir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temporary, target);
      await syncPath(outputDir);
    }
    return target;
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error instanceof IoError ? error : new IoError(`${target}: cannot write the checkpoint (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Cleans up after runs killed while saving: removes the temporary folders under `outputDir` whose
 * writer is no longer running, and puts back a checkpoint that was moved aside to be replaced when
 * its replacement never arrived. Returns what it did, one line per folder.
 */
export async function removeUnfinishedCheckpoints(outputDir: string): Promise<string[]> {
  if (!existsSync(outputDir)) return [];
  const done: string[] = [];
  for (const entry of await readdir(outputDir)) {
    const match = TEMPORARY_FOLDER.exec(entry);
    if (!match) continue;
    const [, name, pid, old] = match;
    if (Number(pid) !== process.pid && isRunning(Number(pid))) continue;
    const path = join(outputDir, entry);
    const target = join(outputDir, name);
    if (old && !existsSync(target)) {
      await rename(path, target);
      await syncPath(outputDir);
      done.push(`put back ${target}, which a killed run had moved aside to replace it`);
    } else {
      await rm(path, { recursive: true, force: true });
      done.push(`removed ${path}, left by a run killed while saving`);
    }
  }
  return done;
}

/**
 * Every checkpoint folder under `outputDir`, newest first (by step; `final` by its trainer
 * state, or first when that cannot be read). A folder is damaged when its trainer state is
 * missing or unreadable or one of its safetensors files is incomplete; its weights are not read.
 */
export async function findCheckpoints(outputDir: string): Promise<FoundCheckpoint[]> {
  if (!existsSync(outputDir)) return [];
  const found: (FoundCheckpoint & { order: number })[] = [];
  for (const entry of await readdir(outputDir)) {
    const nameStep = entry === FINAL_CHECKPOINT ? Infinity : /^step-(\d+)$/.exec(entry)?.[1];
    if (nameStep === undefined) continue;
    const dir = join(outputDir, entry);
    try {
      const state = await readTrainerState(join(dir, TRAINER_STATE_FILE));
      await checkSafetensorsFiles(dir);
      found.push({ dir, state, order: state.step });
    } catch (error) {
      if (!(error instanceof FormatError || error instanceof IoError)) throw error;
      found.push({ dir, damage: error.message, order: Number(nameStep) });
    }
  }
  return found.sort((a, b) => b.order - a.order).map(({ order: _, ...checkpoint }) => checkpoint);
}

/** The most advanced undamaged checkpoint under `outputDir`, or undefined when there is none. */
export async function latestCheckpoint(outputDir: string): Promise<{ dir: string; state: TrainerState } | undefined> {
  const good = (await findCheckpoints(outputDir)).find((c) => c.state !== undefined);
  return good && { dir: good.dir, state: good.state! };
}

async function readTrainerState(file: string): Promise<TrainerState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new IoError(`${file}: cannot read the trainer state (${describeFsError(error)})`, { cause: error });
  }
  try {
    const state = JSON.parse(text) as TrainerState;
    if (typeof state !== 'object' || state === null) throw new Error('not a JSON object');
    if (![state.step, state.epoch, state.batchInEpoch, state.totalSteps].every(Number.isSafeInteger)) throw new Error('step, epoch, batchInEpoch or totalSteps is not an integer');
    if (typeof state.config !== 'object' || state.config === null) throw new Error('config is missing');
    return state;
  } catch (error) {
    throw new FormatError(`${file}: not a trainer state (${(error as Error).message})`, { cause: error });
  }
}

/** Opens every safetensors file under `dir` (header checked against the file's length: a truncated file fails). */
async function checkSafetensorsFiles(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.safetensors')) continue;
    const file = await openSafetensors(join(entry.parentPath, entry.name));
    await file.close();
  }
}

/** Whether a process of this id exists (EPERM: it exists, owned by someone else). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `text` to `file` and flushes it to disk before returning. */
async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes every file and folder under `dir`, and `dir` itself. */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() || entry.isDirectory()) await syncPath(join(entry.parentPath, entry.name));
  }
  await syncPath(dir);
}

/** fsync of a file or a folder (a folder's entries: that a rename into it is on disk). */
async function syncPath(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } finally {
    await handle?.close();
  }
}
