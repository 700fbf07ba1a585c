/** Reading a whole file, with errors that name it. */
import { readFile } from 'node:fs/promises';
import { IoError } from '../errors.js';

/** The whole content of `path`. Throws {@link IoError} naming the file when it cannot be read. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw new IoError(`${path}: cannot read file (${describeFsError(error)})`, { cause: error });
  }
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
