// Prints the addon's CPU-build source list for binding.gyp: native/sources.txt (the list
// CMakeLists.txt reads too) plus the CUDA stand-in, so the two builds never drift apart.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = readFileSync(`${root}native/sources.txt`, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
process.stdout.write([...sources, 'native/core/no_cuda.cpp'].join('\n'));
