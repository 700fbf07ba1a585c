/**
 * Hostile and broken files through `wsi-vqa data check --json`, as a user would run it (the
 * compiled CLI in dist/, one process per file): each must end within 10 s and 500 MB of memory
 * with exit code 1 and a problem naming the file; a pandas CSV must read as the values it holds.
 * The files are made here, one of each class of issue 17 (and of classes that already passed,
 * so they stay passing). Through dist/, CSV and HDF5 feature files are read on the worker thread.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readSlideFeatures } from '../../lib/io/features.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { ramp, shortString, tempDir, torchZip, writeTemp } from '../io/helpers.js';

const cli = fileURLToPath(new URL('../../dist/cli/wsi-vqa.js', import.meta.url));
const TIME_LIMIT_MS = 10_000;
const MEMORY_LIMIT_KB = 500 * 1024;

/** Pickle opcodes used below (CPython's Lib/pickletools.py). */
const P = {
  PROTO2: [0x80, 2],
  MARK: 0x28,
  STOP: 0x2e,
  EMPTY_LIST: 0x5d,
  LIST: 0x6c,
  APPENDS: 0x65,
  BINPUT: 0x71,
  BINGET: 0x68,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  TUPLE: 0x74,
  TUPLE2: 0x86,
  REDUCE: 0x52,
  BINPERSID: 0x51,
  LONG4: 0x8b,
  GLOBAL: 0x63,
} as const;

function bytesOf(parts: (number | string | readonly number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') for (const c of part) out.push(c.charCodeAt(0));
    else for (const b of part) out.push(b);
  }
  return Uint8Array.from(out);
}

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const u16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff];

/** A list holding the same sub-list twice, `depth` levels deep (2^depth paths, depth + 1 objects). */
function sharedListsPickle(depth: number): Uint8Array {
  const parts: (number | readonly number[])[] = [P.PROTO2, P.EMPTY_LIST, P.BINPUT, 0];
  for (let k = 1; k <= depth; k++) parts.push(P.MARK, P.BINGET, k - 1, P.BINGET, k - 1, P.LIST, P.BINPUT, k);
  return bytesOf([...parts, P.STOP]);
}

/** One LONG4 integer of `length` bytes. */
function longPickle(length: number): Uint8Array {
  const digits = Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0x7f);
  return bytesOf([P.PROTO2, P.LONG4, u32(length), digits, P.STOP]);
}

/** One APPENDS of `count` small integers. */
function appendsPickle(count: number): Uint8Array {
  const items = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) items.set([P.BININT1, i & 0xff], 2 * i);
  return bytesOf([P.PROTO2, P.EMPTY_LIST, P.MARK, items, P.APPENDS, P.STOP]);
}

/**
 * A list of `count` distinct tensors, each the transposed (non-contiguous) view of one
 * `side` × `side` float32 storage: rebuilding them all would copy the storage `count` times.
 */
function manyViewsPickle(count: number, side: number): Uint8Array {
  const storage = [P.MARK, ...shortString('storage'), P.GLOBAL, 'torch\nFloatStorage\n', ...shortString('0'), ...shortString('cpu'), P.BININT, u32(side * side), P.TUPLE, P.BINPERSID];
  const transposed = [P.BININT1, 0, P.BININT2, u16(side), P.BININT2, u16(side), P.TUPLE2, P.BININT1, 1, P.BININT2, u16(side), P.TUPLE2];
  const calls = new Uint8Array(count * 5);
  for (let i = 0; i < count; i++) calls.set([P.BINGET, 0, P.BINGET, 1, P.REDUCE], 5 * i);
  return bytesOf([
    P.PROTO2,
    P.GLOBAL, 'torch._utils\n_rebuild_tensor_v2\n', P.BINPUT, 0,
    P.MARK, ...storage, ...transposed, P.TUPLE, P.BINPUT, 1,
    P.EMPTY_LIST, P.MARK, calls, P.APPENDS, P.STOP,
  ]);
}

/** A pickle naming `os.system`: refused, never run. */
const osSystemPickle = bytesOf([P.PROTO2, P.GLOBAL, 'os\nsystem\n', P.MARK, ...shortString('echo pwned'), P.TUPLE, P.REDUCE, P.STOP]);

/** A torch zip with two entries named `archive/data/0` (the second renamed from `archive/data/1` in place). */
function duplicateEntryZip(): Uint8Array {
  const pickle = bytesOf([P.PROTO2, P.EMPTY_LIST, P.STOP]);
  const zip = torchZip('archive', pickle, { '0': new Uint8Array(64), '1': new Uint8Array(64).fill(0xff) });
  const from = new TextEncoder().encode('archive/data/1');
  for (let at = 0; at + from.length <= zip.length; at++) {
    if (from.every((b, i) => zip[at + i] === b)) zip[at + from.length - 1] = '0'.charCodeAt(0);
  }
  return zip;
}

/** The shortest decimal that reads back as the float32 `value` (what numpy and pandas write). */
function float32Text(value: number): string {
  for (let digits = 1; digits < 10; digits++) {
    const text = String(Number(value.toPrecision(digits)));
    if (Math.fround(Number(text)) === value) return text;
  }
  return String(value);
}

/**
 * pandas' default `DataFrame(features).to_csv(path)` layout, written by hand (pandas is not a
 * dependency): a header of an empty index cell then the column names 0…width-1, and every row
 * led by its index.
 */
function pandasCsv(values: Float32Array, width: number): string {
  const lines = [['', ...Array.from({ length: width }, (_, i) => String(i))].join(',')];
  for (let r = 0; r < values.length / width; r++) {
    lines.push([String(r), ...Array.from(values.subarray(r * width, (r + 1) * width), float32Text)].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** A gzip-chunked HDF5 `features` dataset of 1 written row, resized to `rows` × 1024 without writing them. */
async function unbackedH5(path: string, rows: number): Promise<void> {
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'w');
  try {
    const dataset = file.create_dataset({ name: 'features', data: new Float32Array(1024), shape: [1, 1024], maxshape: [null, 1024], chunks: [256, 1024], compression: 'gzip' });
    dataset.resize([rows, 1024]);
  } finally {
    file.close();
  }
}

/** A script preloaded into the CLI's process that records its peak resident memory (KB) on exit. */
function peakMemoryRecorder(dir: string): string {
  return writeTemp(
    dir,
    'record-peak-memory.cjs',
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.WSI_VQA_PEAK_FILE, String(process.resourceUsage().maxRSS)));\n",
  );
}

interface CheckRun {
  status: number | null;
  signal: string | null;
  ms: number;
  peakKb: number | undefined;
  result: { ok: boolean; samples: number; problems: { file: string; row: number; message: string }[] } | undefined;
  stderr: string;
}

/** `wsi-vqa data check --json <dataset>` in its own process, killed after the time limit. */
function dataCheck(dataset: string, recorder: string, peakFile: string): Promise<CheckRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--require', recorder, cli, 'data', 'check', '--json', dataset], {
      env: { ...process.env, WSI_VQA_PEAK_FILE: peakFile },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: TIME_LIMIT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      let result: CheckRun['result'];
      try {
        result = JSON.parse(stdout);
      } catch {
        result = undefined;
      }
      const peakKb = existsSync(peakFile) ? Number(readFileSync(peakFile, 'utf8')) : undefined;
      resolve({ status, signal, ms: performance.now() - started, peakKb, result, stderr });
    });
  });
}

/** A one-record VQA dataset pointing at `features`. */
function datasetFor(dir: string, name: string, features: string): string {
  return writeTemp(dir, `${name}.json`, JSON.stringify([{ slide_id: name, question: 'What is it?', answer: 'A.', features_path: features }]));
}

interface Case {
  name: string;
  /** Makes the hostile file and returns the dataset to check plus the path its problem must name. */
  make: (dir: string) => Promise<{ dataset: string; names: string }>;
  /** Part of the problem's message. */
  expect: RegExp;
}

const featureCase = (name: string, file: string, write: (path: string) => void | Promise<void>, expected: RegExp): Case => ({
  name,
  expect: expected,
  make: async (dir) => {
    const path = join(dir, file);
    await write(path);
    return { dataset: datasetFor(dir, name, file), names: path };
  },
});

const mkfifo = (path: string): void => void execFileSync('mkfifo', [path]);
const deepList = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Issue 17's classes: each hung, grew without end, crashed or misread before. */
const NEW_CASES: Case[] = [
  featureCase('shared-lists', 'shared.pt', (p) => writeFileSync(p, torchZip('shared', sharedListsPickle(60))), /holds no tensors/),
  featureCase('long4', 'long4.pt', (p) => writeFileSync(p, torchZip('long4', longPickle(400_000))), /holds no tensors/),
  featureCase('appends', 'appends.pt', (p) => writeFileSync(p, torchZip('appends', appendsPickle(300_000))), /holds no tensors/),
  featureCase('many-views', 'views.pt', (p) => writeFileSync(p, torchZip('views', manyViewsPickle(100_000, 1024), { '0': new Uint8Array(4 * 1024 * 1024) })), /many views of the same storage/),
  featureCase('fifo-pt', 'fifo.pt', mkfifo, /a FIFO \(named pipe\), not a regular file/),
  featureCase('fifo-safetensors', 'fifo.safetensors', mkfifo, /a FIFO \(named pipe\), not a regular file/),
  featureCase('fifo-h5', 'fifo.h5', mkfifo, /a FIFO \(named pipe\), not a regular file/),
  featureCase('fifo-csv', 'fifo.csv', mkfifo, /a FIFO \(named pipe\), not a regular file/),
  featureCase('dev-zero', 'zero.npy', (p) => symlinkSync('/dev/zero', p), /a device, not a regular file/),
  featureCase('dev-urandom', 'random.pt', (p) => symlinkSync('/dev/urandom', p), /a device, not a regular file/),
  featureCase('directory-safetensors', 'folder.safetensors', (p) => mkdirSync(p), /a directory, not a regular file/),
  featureCase('directory-h5', 'folder.h5', (p) => mkdirSync(p), /a directory, not a regular file/),
  featureCase('duplicate-zip-entries', 'twice.pt', (p) => writeFileSync(p, duplicateEntryZip()), /two entries named archive\/data\/0: ambiguous/),
  featureCase('unbacked-h5', 'sparse.h5', (p) => unbackedH5(p, 262_144), /needs 1073741824 bytes, more than its \d+-byte file can hold compressed/),
  {
    name: 'deep-records',
    expect: /record is not an object \(a list of 1 item\(s\)\)/,
    make: async (dir) => {
      await writeSafetensors(join(dir, 'ok.safetensors'), { features: { dtype: 'F32', shape: [2, 1024], data: ramp(2, 1024) } });
      const valid = '{"id": "ok", "image": "ok.safetensors", "conversations": [{"from": "human", "value": "<image> Q?"}, {"from": "gpt", "value": "A."}]}';
      const deepFrom = `{"id": "x", "image": "ok.safetensors", "conversations": [{"from": ${deepList(100_000)}, "value": "Q"}]}`;
      const dataset = writeTemp(dir, 'deep.json', `[${valid}, ${deepList(100_000)}, ${deepFrom}]`);
      return { dataset, names: dataset };
    },
  },
  {
    name: 'fifo-dataset',
    expect: /a FIFO \(named pipe\), not a regular file/,
    make: async (dir) => {
      const dataset = join(dir, 'pipe.json');
      mkfifo(dataset);
      return { dataset, names: dataset };
    },
  },
  {
    name: 'dev-zero-dataset',
    expect: /a device, not a regular file/,
    make: async (dir) => {
      const dataset = join(dir, 'zero.json');
      symlinkSync('/dev/zero', dataset);
      return { dataset, names: dataset };
    },
  },
];

/** Classes that already gave a clear error, kept here so they stay that way. */
const KNOWN_CASES: Case[] = [
  featureCase('os-system', 'evil.pt', (p) => writeFileSync(p, torchZip('evil', osSystemPickle)), /refusing global os\.system/),
  featureCase('npy-lying-header', 'lie.npy', (p) => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1024), }".padEnd(117, ' ') + '\n';
    writeFileSync(p, bytesOf([0x93, 'NUMPY', 1, 0, u16(header.length), header, new Uint8Array(64)]));
  }, /header claims shape \[1000000000,1024\]/),
  featureCase('truncated-pt', 'cut.pt', (p) => {
    const zip = torchZip('cut', bytesOf([P.PROTO2, P.EMPTY_LIST, P.STOP]), { '0': new Uint8Array(4096) });
    writeFileSync(p, zip.subarray(0, zip.length >> 1));
  }, /not a complete zip archive/),
  featureCase('compressed-pt', 'deflated.pt', (p) => writeFileSync(p, torchZip('deflated', bytesOf([P.PROTO2, P.EMPTY_LIST, P.STOP]), {}, 6)), /is compressed/),
  featureCase('directory-pt', 'folder.pt', (p) => mkdirSync(p), /not a regular file|is a directory/),
  featureCase('missing', 'absent.pt', () => undefined, /no such file/),
  featureCase('safetensors-huge-header', 'huge.safetensors', (p) => writeFileSync(p, bytesOf([[0, 0, 0, 0, 0, 0, 0, 0x40], '{}'])), /header claims/),
  featureCase('nan-features', 'nan.safetensors', async (p) => {
    const values = ramp(3, 1024);
    values[2 * 1024 + 5] = NaN;
    await writeSafetensors(p, { features: { dtype: 'F32', shape: [3, 1024], data: values } });
  }, /patch row 2 \(0-based\) has a NaN value at column 5/),
  featureCase('zip-in-npy', 'zip.npy', (p) => writeFileSync(p, zipSync({ 'a.txt': new Uint8Array(10) })), /not a \.npy file/),
];

/** Runs `cases` two at a time (the machine has two cores) and returns each outcome. */
async function runAll(cases: Case[]): Promise<Map<string, CheckRun & { dataset: string; names: string }>> {
  const dir = tempDir();
  const recorder = peakMemoryRecorder(dir);
  const outcomes = new Map<string, CheckRun & { dataset: string; names: string }>();
  const queue = [...cases];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const caseDir = join(dir, next.name);
      mkdirSync(caseDir);
      const { dataset, names } = await next.make(caseDir);
      outcomes.set(next.name, { ...(await dataCheck(dataset, recorder, join(caseDir, 'peak-kb'))), dataset, names });
    }
  };
  await Promise.all([worker(), worker()]);
  return outcomes;
}

/** What is wrong with a run that should have refused its file, or undefined when it did so as required. */
function refusalFailure(kase: Case, run: CheckRun & { names: string }): string | undefined {
  const summary = `${kase.name}: exit ${run.status} (signal ${run.signal}), ${Math.round(run.ms)} ms, peak ${run.peakKb} KB`;
  if (run.signal !== null || run.ms >= TIME_LIMIT_MS) return `${summary}: killed after ${TIME_LIMIT_MS} ms`;
  if (run.peakKb === undefined || run.peakKb >= MEMORY_LIMIT_KB) return `${summary}: peak memory unknown or over ${MEMORY_LIMIT_KB} KB`;
  if (run.status !== 1 || run.result?.ok !== false) return `${summary}: expected exit 1 and ok false; stdout ${JSON.stringify(run.result)}, stderr ${run.stderr.slice(0, 400)}`;
  const problem = run.result.problems.find((p) => kase.expect.test(p.message) && `${p.file} ${p.message}`.includes(run.names));
  if (!problem) return `${summary}: no problem naming ${run.names} and matching ${kase.expect}; problems ${JSON.stringify(run.result.problems).slice(0, 600)}`;
  return undefined;
}

describe('wsi-vqa data check on hostile files: within 10 s and 500 MB, exit 1, a problem naming the file', () => {
  it.each([
    ['the classes of issue 17', NEW_CASES],
    ['classes that already passed', KNOWN_CASES],
  ])('%s', async (_, cases) => {
    const outcomes = await runAll(cases);
    console.log([...outcomes].map(([name, run]) => `${name}: exit ${run.status}, ${Math.round(run.ms)} ms, peak ${Math.round((run.peakKb ?? NaN) / 1024)} MB`).join('\n'));
    const failures = cases.map((kase) => refusalFailure(kase, outcomes.get(kase.name)!)).filter((failure) => failure !== undefined);
    expect(failures).toEqual([]);
  }, 180_000);

  it('reads a CSV written by pandas to_csv (index column, empty first header cell) as the values numpy reads', async () => {
    const dir = tempDir();
    const rows = 7;
    const values = Float32Array.from({ length: rows * 1024 }, (_, i) => Math.fround(Math.sin(i * 0.37) * 3 + (i % 11) / 13));
    const path = writeTemp(dir, 'pandas.csv', pandasCsv(values, 1024));
    const slide = await readSlideFeatures(path);
    expect(slide.patches).toBe(rows);
    expect(slide.features).toEqual(values);
    // numpy's own reading of the same file, where Debian's python3-numpy is installed.
    if (existsSync('/usr/bin/python3') && !spawnFails('/usr/bin/python3', ['-c', 'import numpy'])) {
      const script = 'import sys, numpy as np; sys.stdout.buffer.write(np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.float32)[:, 1:].tobytes())';
      const numpyBytes = execFileSync('/usr/bin/python3', ['-c', script, path]);
      expect(slide.features).toEqual(new Float32Array(numpyBytes.buffer, numpyBytes.byteOffset, numpyBytes.byteLength / 4));
    }
    // The compiled library parses CSVs on a worker thread: the same values must come back from there.
    expect(Buffer.compare(featuresThroughDist(path), Buffer.from(values.buffer))).toBe(0);
    const run = await dataCheck(datasetFor(dir, 'pandas', 'pandas.csv'), peakMemoryRecorder(dir), join(dir, 'peak-kb'));
    expect(run.status, run.stderr).toBe(0);
    expect(run.result).toEqual({ ok: true, samples: 1, problems: [] });
  }, 60_000);

  it('reads an HDF5 file on the compiled library\'s worker thread as in this one', async () => {
    const dir = tempDir();
    const path = join(dir, 'stored.h5');
    const { default: h5wasm } = await import('h5wasm/node');
    await h5wasm.ready;
    const file = new h5wasm.File(path, 'w');
    file.create_dataset({ name: 'features', data: ramp(5, 512), shape: [5, 512], chunks: [2, 512], compression: 'gzip' });
    file.close();
    const here = (await readSlideFeatures(path)).features;
    expect(Buffer.compare(featuresThroughDist(path), Buffer.from(here.buffer, here.byteOffset, here.byteLength))).toBe(0);
    expect(here.subarray(512, 1024)).toEqual(ramp(1, 512));
  }, 60_000);
});

/** The bytes of `readSlideFeatures(path).features` from the compiled library (dist/), in a process of its own. */
function featuresThroughDist(path: string): Buffer {
  const distFeatures = new URL('../../dist/io/features.js', import.meta.url).href;
  const script = `const { readSlideFeatures } = await import(${JSON.stringify(distFeatures)}); const s = await readSlideFeatures(process.env.WSI_VQA_SLIDE); process.stdout.write(new Uint8Array(s.features.buffer, s.features.byteOffset, s.features.byteLength));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, WSI_VQA_SLIDE: path }, maxBuffer: 1 << 30 });
}

function spawnFails(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}
