// npm run build:prebuild — the addon that ships in the tarball, prebuilds/<platform>-<arch>/wsi-vqa.napi.node,
// which node-gyp-build loads when there is no local build (so `npm install` needs no compiler).
//
// It is CMake's `wsi_vqa_prebuild` target: the same objects as this checkout's addon (CPU, and
// CUDA for sm_80 and sm_90 with PTX when nvcc is found, cudart linked statically), without Gloo,
// so it needs nothing beyond libc and libstdc++. After `npm run build:native` (or CI's source
// install) only the process-group file is compiled again and the addon linked: seconds, not the
// minutes of a full build. Stripped, and refused if it needs a library a user may not have.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const started = performance.now();

const build = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'build', '--target', 'wsi_vqa_prebuild', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const built = `${root}build/prebuild/wsi_vqa_prebuild.node`;
const dir = `${root}prebuilds/${process.platform}-${process.arch}`;
const target = `${dir}/wsi-vqa.napi.node`;
mkdirSync(dir, { recursive: true });
copyFileSync(built, target);
execFileSync('strip', ['--strip-unneeded', target]);

// Libraries every Linux with Node has; anything else (libgloo, libcudart) would fail to load for users.
const SYSTEM_LIBRARIES = /^(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so/;
const dynamic = execFileSync('readelf', ['--dynamic', '--version-info', target], { encoding: 'utf8' });
const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const foreign = needed.filter((lib) => !SYSTEM_LIBRARIES.test(lib));
if (foreign.length > 0) {
  console.error(`prebuild: ${target} needs ${foreign.join(', ')}, which users may not have`);
  process.exit(1);
}
const glibc = [...dynamic.matchAll(/GLIBC_(\d+\.\d+)/g)].map((m) => m[1]).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
const { cuda, gloo } = require(target).info();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`prebuild: ${target} (CUDA ${cuda.compiled ? 'compiled in' : 'not compiled in'}, Gloo ${gloo.compiled ? 'compiled in' : 'left out'}; needs ${needed.join(', ')}; glibc ≥ ${glibc}) in ${seconds} s`);
