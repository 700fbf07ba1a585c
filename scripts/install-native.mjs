// `npm install` step: make sure there is a native addon to load.
//   1. a prebuilt binary (prebuilds/) or an earlier build (build/Release) that loads: done;
//   2. else cmake-js: the CPU backend, and the CUDA backend when nvcc is found;
//   3. else node-gyp: the CPU backend only, from the same source list.
// WSI_VQA_BUILD_FROM_SOURCE=1 skips step 1.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function run(command, args) {
  console.log(`wsi-vqa: ${command} ${args.join(' ')}`);
  return spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' }).status === 0;
}

function loadsAlready() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

// npm runs install scripts with its own node-gyp in npm_config_node_gyp.
function nodeGyp() {
  return process.env.npm_config_node_gyp ?? require.resolve('node-gyp/bin/node-gyp.js');
}

const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
if (!process.env.WSI_VQA_BUILD_FROM_SOURCE && loadsAlready()) {
  console.log('wsi-vqa: using the existing native addon');
} else if (hasCmake && run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile'])) {
  console.log('wsi-vqa: built the native addon with cmake-js');
} else if (run(process.execPath, [nodeGyp(), 'rebuild'])) {
  console.log('wsi-vqa: built the CPU-only native addon with node-gyp');
} else {
  console.error('wsi-vqa: could not build the native addon: install cmake and a C++20 compiler, then npm rebuild wsi-vqa');
  process.exit(1);
}
