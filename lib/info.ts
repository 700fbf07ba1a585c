/** What this installation can do: `wsi-vqa info` prints it. */
import { readFileSync } from 'node:fs';

import { native } from './native.js';
import type { BackendsInfo } from './native.js';

export type { BackendsInfo };

export interface LibraryInfo {
  version: string;
  backends: BackendsInfo;
  /** Names of every op in the table. */
  ops: string[];
}

/** The package version. */
export const version: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The version, the backends (CPU always; CUDA when compiled in and a device answers) and the ops. */
export function info(): LibraryInfo {
  return { version, backends: native.info(), ops: native.ops().map((op) => op.name) };
}
