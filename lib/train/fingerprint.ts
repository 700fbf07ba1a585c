/**
 * Digests of what a training run reads (the dataset file, the model folder, the compressor and
 * projector files), for the run record of each checkpoint (`runRecord.ts`): a resume from a
 * checkpoint of a run that read other files is refused.
 *
 * Files up to {@link WHOLE_FILE_BYTES} are hashed whole; larger ones (the weights of a 4B model,
 * gigabytes) by their size and {@link SAMPLED_WINDOWS} windows spread over the file, the first
 * one holding a safetensors header: reading all of them at every start would cost seconds to
 * minutes. A fine-tune changes nearly every weight, so any window tells it from its base model;
 * two files that differ in only a few bytes away from every window are not told apart.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IoError } from '../errors.js';
import { describeFsError } from '../io/fileBytes.js';

/** Files up to this size are hashed whole. */
export const WHOLE_FILE_BYTES = 256 * 2 ** 20;
/** Windows of a larger file that are hashed, and their size. */
export const SAMPLED_WINDOWS = 64;
const WINDOW_BYTES = 2 ** 20;

/** A digest of the file `path`: `sha256:<first 16 hex digits>` (of its size and sampled windows when larger than {@link WHOLE_FILE_BYTES}). */
export async function fileDigest(path: string): Promise<string> {
  return `sha256:${(await hashFile(path)).digest('hex').slice(0, 16)}`;
}

/** A digest of every regular file directly in the folder `dir` (a Hugging Face model folder: config, weights, tokenizer), by name. */
export async function folderDigest(dir: string): Promise<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new IoError(`${dir}: cannot read folder (${describeFsError(error)})`, { cause: error });
  }
  const hash = createHash('sha256');
  for (const name of entries.filter((e) => e.isFile()).map((e) => e.name).sort()) {
    hash.update(`${name}\0`).update((await hashFile(join(dir, name))).digest());
  }
  return `sha256:${hash.digest('hex').slice(0, 16)}`;
}

/** Where a training run's inputs come from (the flags of `wsi-vqa train`). */
export interface TrainingInputs {
  /** The dataset file. */
  dataPath: string;
  /** Patches kept per slide (undefined: all). */
  maxPatches?: number;
  /** The Qwen3 model folder (stages 1 and 2). */
  llmPath?: string;
  /** The compressor's weights (undefined: random from the seed). */
  compressorPath?: string;
  /** The projector's weights (undefined: random from the seed). */
  projectorPath?: string;
}

/** The `sources` of a run's record (see `runRecord.ts`) for these inputs. */
export async function describeTrainingInputs(inputs: TrainingInputs): Promise<Record<string, string>> {
  return {
    data: await fileDigest(inputs.dataPath),
    'max patches': inputs.maxPatches === undefined ? 'all' : String(inputs.maxPatches),
    model: inputs.llmPath === undefined ? 'none' : await folderDigest(inputs.llmPath),
    compressor: inputs.compressorPath === undefined ? 'random' : await fileDigest(inputs.compressorPath),
    projector: inputs.projectorPath === undefined ? 'random' : await fileDigest(inputs.projectorPath),
  };
}

async function hashFile(path: string) {
  const hash = createHash('sha256');
  let handle;
  try {
    // Checked before opening: opening a FIFO would wait for a writer forever.
    if (!(await stat(path)).isFile()) throw new Error('not a regular file');
    handle = await open(path, 'r');
    const size = (await handle.stat()).size;
    const windows = size <= WHOLE_FILE_BYTES ? [[0, size]] : Array.from({ length: SAMPLED_WINDOWS }, (_, i) => [Math.floor((i * (size - WINDOW_BYTES)) / (SAMPLED_WINDOWS - 1)), WINDOW_BYTES]);
    hash.update(`${size}\0`);
    const buffer = Buffer.alloc(Math.min(size, 8 * WINDOW_BYTES));
    for (const [start, length] of windows) {
      for (let done = 0; done < length; ) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - done), start + done);
        if (bytesRead === 0) throw new Error('the file ended early');
        hash.update(buffer.subarray(0, bytesRead));
        done += bytesRead;
      }
    }
    return hash;
  } catch (error) {
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  } finally {
    await handle?.close();
  }
}
