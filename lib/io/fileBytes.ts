/**
 * Opening and reading files with errors that name them. Only regular files are read: a FIFO
 * would block the open forever and `/dev/zero` would never end, so a path is opened without
 * blocking and checked to be a regular file before a byte is read, and its size (known up front)
 * is checked against a budget before anything is allocated.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { IoError } from '../errors.js';
import { native, withCallerStack } from '../native.js';
import { uninitializedBytes } from './hostMemory.js';

/**
 * Largest file read whole into memory (4 GiB, Node's largest buffer): 25 slides of 40 000
 * patches × 1024 float32.
 */
export const MAX_FILE_BYTES = 2 ** 32;
/** One read call stays under Node's 2 GiB limit per read. */
const MAX_READ_BYTES = 1 << 30;

/** An open regular file and its size in bytes. Close the handle when done. */
export interface RegularFile {
  handle: FileHandle;
  size: number;
}

/**
 * Opens `path` for reading if it is a regular file (symbolic links followed). Throws
 * {@link IoError} naming the file when it cannot be opened or is a directory, FIFO, socket or device.
 */
export async function openRegularFile(path: string): Promise<RegularFile> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting for one.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      const kind = stats.isDirectory() ? 'a directory' : stats.isFIFO() ? 'a FIFO (named pipe)' : stats.isSocket() ? 'a socket' : 'a device';
      throw new IoError(`${path}: cannot read file (it is ${kind}, not a regular file)`);
    }
    return { handle, size: stats.size };
  } catch (error) {
    await handle.close();
    if (error instanceof IoError) throw error;
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
}

/**
 * The whole content of the regular file `path`, read with as few read calls as its size allows
 * (one below 1 GiB) into one fresh buffer (on huge pages, from the addon). Throws {@link IoError}
 * naming the file when it cannot be read, is not a regular file, is larger than `maxBytes`
 * (default {@link MAX_FILE_BYTES}), or shrinks while being read.
 */
export async function readFileBytes(path: string, maxBytes: number = MAX_FILE_BYTES): Promise<Uint8Array> {
  // The addon opens, checks, reads and closes as one job on a libuv thread, so a read started
  // before a synchronous training step is done by its end (through fs/promises, each step of it
  // would wait for the main thread).
  return new Uint8Array(await withCallerStack(native.readFile(path, maxBytes)));
}

/** The file's text (UTF-8, a leading byte-order mark dropped), with the checks of {@link readFileBytes}. */
export async function readTextFile(path: string, maxBytes?: number): Promise<string> {
  return new TextDecoder('utf-8', { ignoreBOM: false }).decode(await readFileBytes(path, maxBytes));
}

/**
 * Exactly `length` bytes at `position` of an open file, into a fresh buffer that the reads fill
 * completely (it is not zeroed first). Throws {@link IoError} naming the file when it ends early.
 */
export async function readRange(handle: FileHandle, path: string, position: number, length: number): Promise<Uint8Array> {
  const buffer = uninitializedBytes(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, Math.min(length - done, MAX_READ_BYTES), position + done);
      if (bytesRead === 0) throw new IoError(`${path}: file ended at byte ${position + done}, expected ${length} bytes from ${position} (truncated, or shrinking while read?)`);
      done += bytesRead;
    }
  } catch (error) {
    if (error instanceof IoError) throw error;
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
  return buffer;
}

/** A short reason for a Node file-system error: `ENOENT: no such file or directory`. */
export function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
    return error.message;
  }
  return String(error);
}
