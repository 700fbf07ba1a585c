// `npm install` step: make sure there is a native addon to load.
//   1. a prebuilt binary (prebuilds/, shipped in the tarball) or an earlier build (build/Release)
//      that loads: done, no compiler needed;
//   2. else cmake-js: the CPU backend, and the CUDA backend when nvcc is found;
//   3. else node-gyp: the CPU backend only, from the same source list.
// WSI_VQA_BUILD_FROM_SOURCE=1 skips step 1.
//
// npm hides an install script's output unless it fails, and a source build takes minutes: its
// output also goes to the terminal (/dev/tty) when there is one, so the user sees it progress.
import { spawn, spawnSync } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function openTerminal() {
  try {
    return openSync('/dev/tty', 'w');
  } catch {
    return undefined; // no terminal (CI, Docker): the output stays in npm's log
  }
}
const terminal = openTerminal();

function say(line) {
  console.log(line);
  if (terminal !== undefined) writeSync(terminal, `${line}\n`);
}

function run(command, args) {
  say(`wsi-vqa: ${[command, ...args].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    const forward = (stream) => (chunk) => {
      stream.write(chunk);
      if (terminal !== undefined) writeSync(terminal, chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

/** Why the addon does not load, or null when it does. */
function loadError() {
  try {
    require('node-gyp-build')(root);
    return null;
  } catch (error) {
    return error.message.split('\n')[0];
  }
}

// npm runs install scripts with its own node-gyp in npm_config_node_gyp.
function nodeGyp() {
  return process.env.npm_config_node_gyp ?? require.resolve('node-gyp/bin/node-gyp.js');
}

const fromSource = Boolean(process.env.WSI_VQA_BUILD_FROM_SOURCE);
const problem = fromSource ? 'WSI_VQA_BUILD_FROM_SOURCE is set' : loadError();
if (problem === null) {
  console.log('wsi-vqa: the native addon loads (prebuilt, or built here before)');
  process.exit(0);
}
say(`wsi-vqa: building the native addon from source (${problem}); this takes minutes, more with CUDA`);
const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
if (hasCmake && (await run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile']))) {
  say('wsi-vqa: built the native addon with cmake-js');
} else if (await run(process.execPath, [nodeGyp(), 'rebuild'])) {
  say('wsi-vqa: built the CPU-only native addon with node-gyp');
} else {
  say('wsi-vqa: could not build the native addon: install cmake and a C++20 compiler, then npm rebuild wsi-vqa');
  process.exit(1);
}
