/**
 * Training runs as users run them (the compiled CLI in dist/, as subprocesses), stopped and
 * resumed every way they can be: a resume into a folder holding another run's checkpoint is
 * refused, naming the difference; a run killed (SIGKILL) while writing a checkpoint resumes and
 * ends bit for bit where an uninterrupted run ends, with no temporary folder left; SIGINT stops a
 * run at the end of a step with a checkpoint and exit 130 (SIGTERM: 143), a second signal at
 * once; a damaged newest checkpoint is skipped for the newest good one; a dataset that does not
 * fit the stage, and numbers out of range, are refused before any work.
 *
 * The runs: stage 1 (the projector) on the captions of 4 synthetic slides with a tiny Qwen3, a
 * batch of 2, 4 epochs: 8 optimizer steps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../lib/demo/synth.js';
import { info } from '../../lib/info.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';
import { REPEAT_WINDOW_MS } from '../../lib/train/signals.js';
import { largestDifference } from '../distributed/runs.js';
import { tempDir } from '../io/helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli/wsi-vqa.js', import.meta.url));
const SIGNALS_MODULE = new URL('../../dist/train/signals.js', import.meta.url).href;
const WAIT_FOR_SIGNALS = fileURLToPath(new URL('./fixtures/waitForSignals.mjs', import.meta.url));
const STEPS = 8;
/** The files of a stage-1 checkpoint that hold numbers: the trained projector and the optimizer state. */
const WEIGHT_FILES = ['projector.safetensors', 'optimizer.safetensors'];

/** A run of `wsi-vqa <args>` to its end: exit code, signal and output. */
async function wsiVqa(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = start(args);
  return finished(child);
}

/** `wsi-vqa <args>` started; `ownGroup`: in a process group of its own, which a terminal's Ctrl-C would signal whole. */
function start(args: string[], options: { ownGroup?: boolean } = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownGroup });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

function finished(child: ChildProcess & { output: () => string }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr: child.output() })));
}

/** The temporary folders of checkpoints being written. */
const temporaryFolders = (out: string) => (existsSync(out) ? readdirSync(out).filter((name) => name.startsWith('.')) : []);

/** Whether the two checkpoint folders hold the same bytes in every weight file. */
function sameWeights(a: string, b: string): boolean {
  return WEIGHT_FILES.every((file) => readFileSync(join(a, file)).equals(readFileSync(join(b, file))));
}

describe('training runs stopped and resumed', () => {
  let root = '';
  let data: Awaited<ReturnType<typeof makeSyntheticDataset>>;
  let llm = '';
  /** The flags of the run (seed 5 unless overridden), into `out`. */
  const flags = (out: string, ...more: string[]) => ['train', '--stage', '1', '--llm-path', llm, '--data-path', data.captionsCsv, '--output-dir', out, '--batch-size', '2', '--num-epochs', '4', '--lr', '1e-3', '--seed', '5', ...more];
  /** The uninterrupted run, a checkpoint every step. */
  let whole = '';

  beforeAll(async () => {
    root = tempDir();
    data = await makeSyntheticDataset(join(root, 'data'), { trainSlides: 4, testSlides: 1, patches: [5, 9], seed: 2 });
    llm = join(root, 'llm');
    await makeTinyQwen3(llm, { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed: 2 });
    whole = join(root, 'whole');
    const run = await wsiVqa(flags(whole, '--save-every', '1'));
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(whole, 'final', 'trainer_state.json'), 'utf8')).step).toBe(STEPS);
  }, 300_000);

  it('refuses to resume another run\'s checkpoint, naming each difference; --resume-anyway continues it', async () => {
    const out = join(root, 'other');
    cpSync(whole, out, { recursive: true });
    const otherData = join(root, 'data', 'captions-other.csv');
    writeFileSync(otherData, readFileSync(data.captionsCsv, 'utf8').replace('Section of', 'A section of'));
    const refused = await wsiVqa([...flags(out, '--resume'), '--seed', '6', '--lr', '2e-3', '--data-path', otherData]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${join(out, 'final')} is a checkpoint of another run`);
    expect(refused.stderr).toMatch(/lr: 0\.001 in the checkpoint, 0\.002 now/);
    expect(refused.stderr).toMatch(/seed: 5 in the checkpoint, 6 now/);
    expect(refused.stderr).toMatch(/data: sha256:[0-9a-f]{16} in the checkpoint, sha256:[0-9a-f]{16} now/);
    expect(refused.stderr).toContain('--resume-anyway');
    // The same run, saving and evaluating on another schedule, resumes.
    expect((await wsiVqa(flags(out, '--resume', '--save-every', '3', '--eval-every', '2'))).code).toBe(0);
    const anyway = await wsiVqa([...flags(out, '--resume', '--resume-anyway'), '--seed', '6']);
    expect(anyway.code, anyway.stderr).toBe(0);
    expect(anyway.stderr).toMatch(/resuming anyway from a checkpoint of a run that differs: seed: 5 in the checkpoint, 6 now/);
    expect(JSON.parse(readFileSync(join(out, 'final', 'trainer_state.json'), 'utf8')).config.seed).toBe(6);
  }, 300_000);

  it('killed (SIGKILL) while writing a checkpoint, resumes and ends bit for bit where the uninterrupted run did, no temporary folder left', async () => {
    const out = join(root, 'killed');
    // Kill it as soon as a checkpoint's temporary folder appears; the write takes long enough
    // (tens of megabytes, flushed to disk) that the kill lands in it nearly always. Try a few times.
    let killedMidWrite = 0;
    let output = '';
    for (let attempt = 0; attempt < 4 && killedMidWrite < 2; attempt++) {
      // The folder a previous attempt left is not this one's write.
      const left = temporaryFolders(out);
      const child = start(flags(out, '--save-every', '1', ...(attempt > 0 ? ['--resume'] : [])));
      const exit = finished(child);
      while (child.exitCode === null && child.signalCode === null) {
        if (temporaryFolders(out).some((name) => !left.includes(name))) {
          child.kill('SIGKILL');
          break;
        }
        await sleep(1);
      }
      const { signal, stderr } = await exit;
      output += stderr;
      if (signal === 'SIGKILL' && temporaryFolders(out).some((name) => !left.includes(name))) killedMidWrite++;
    }
    expect(killedMidWrite).toBeGreaterThan(0);
    const resumed = await wsiVqa(flags(out, '--save-every', '1', '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    // Each run after a kill mid-write removed what that one left.
    expect((output + resumed.stderr).match(/removed \S+\/\.step-\d+\.tmp-\d+-[0-9a-f]+, left by a run killed while saving/g)?.length).toBe(killedMidWrite);
    expect(temporaryFolders(out)).toEqual([]);
    expect(sameWeights(join(out, 'final'), join(whole, 'final'))).toBe(true);
  }, 300_000);

  it('SIGINT stops at the end of the step with a checkpoint and exit 130; resumed, the run ends as the uninterrupted one', async () => {
    const out = join(root, 'interrupted');
    const child = start(flags(out));
    const exit = finished(child);
    const metrics = join(out, 'metrics.jsonl');
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0)) await sleep(5);
    child.kill('SIGINT');
    const { code, stderr } = await exit;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGINT: stopping at the end of this step');
    const steps = readFileSync(metrics, 'utf8').trim().split('\n').length;
    expect(steps).toBeLessThan(STEPS);
    // No checkpoint was asked for (no --save-every): the stop writes one where it stopped.
    expect(readdirSync(out).filter((name) => name.startsWith('step-') || name === 'final')).toEqual([`step-${steps}`]);
    expect(sameWeights(join(out, `step-${steps}`), join(whole, `step-${steps}`))).toBe(true);
    const resumed = await wsiVqa(flags(out, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed from ${join(out, `step-${steps}`)} at step ${steps}`);
    expect(sameWeights(join(out, 'final'), join(whole, 'final'))).toBe(true);
  }, 300_000);

  it('SIGTERM stops at the end of the step with a checkpoint and exit 143', async () => {
    const out = join(root, 'terminated');
    const child = start(flags(out));
    const exit = finished(child);
    const metrics = join(out, 'metrics.jsonl');
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0)) await sleep(5);
    child.kill('SIGTERM');
    const { code, stderr } = await exit;
    expect(code, stderr).toBe(143);
    expect(stderr).toContain('SIGTERM: stopping at the end of this step');
    const steps = readFileSync(metrics, 'utf8').trim().split('\n').length;
    expect(readdirSync(out).filter((name) => name.startsWith('step-'))).toEqual([`step-${steps}`]);
  }, 300_000);

  it('a second signal, later than a repeat of the first would come, stops at once', async () => {
    // A training run could end before the second signal arrives; this process waits for ever.
    let output = '';
    const child = Object.assign(spawn(process.execPath, [WAIT_FOR_SIGNALS, SIGNALS_MODULE], { stdio: ['ignore', 'ignore', 'pipe'] }), { output: () => output });
    child.stderr.on('data', (chunk) => (output += chunk));
    const exit = finished(child);
    while (!output.includes('ready')) await sleep(5);
    child.kill('SIGTERM');
    while (!output.includes('asked to stop')) await sleep(5);
    await sleep(REPEAT_WINDOW_MS + 100);
    child.kill('SIGTERM');
    const { code, stderr } = await exit;
    expect(code, stderr).toBe(143);
    expect(stderr).toContain('SIGTERM again: stopping now');
  }, 60_000);

  it.skipIf(!info().backends.gloo.compiled)('Ctrl-C under wsi-vqa launch stops both ranks after the same step, with a checkpoint and exit 130; resumed, the run completes', async () => {
    const out = join(root, 'launched');
    // Two ranks of 1: the global batch of the uninterrupted run.
    const launched = (...more: string[]) => ['launch', '--nproc-per-node', '2', 'wsi-vqa', '--', ...flags(out, '--batch-size', '1', ...more)];
    const child = start(launched(), { ownGroup: true });
    const exit = finished(child);
    const metrics = join(out, 'metrics.jsonl');
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0)) await sleep(5);
    // As a terminal does: the launcher and both ranks get it (and the launcher forwards it once more).
    process.kill(-child.pid!, 'SIGINT');
    const { code, stderr } = await exit;
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(/rank \d (exited|was killed)/);
    const steps = readFileSync(metrics, 'utf8').trim().split('\n').length;
    expect(steps).toBeLessThan(STEPS);
    expect(readdirSync(out).filter((name) => name.startsWith('step-') || name === 'final')).toEqual([`step-${steps}`]);
    const resumed = await wsiVqa(launched('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    // Two ranks sum in another order than one: equal to float32 rounding (as in dataParallel.test.ts).
    expect(await largestDifference(join(out, 'final'), join(whole, 'final'), { files: WEIGHT_FILES })).toBeLessThan(2e-5);
  }, 300_000);

  it('skips a damaged newest checkpoint (truncated weights, empty trainer state) for the newest good one, and says so', async () => {
    const out = join(root, 'damaged');
    cpSync(whole, out, { recursive: true });
    rmSync(join(out, 'final'), { recursive: true });
    const truncated = join(out, `step-${STEPS - 1}`, 'optimizer.safetensors');
    truncateSync(truncated, 1000);
    writeFileSync(join(out, `step-${STEPS - 2}`, 'trainer_state.json'), '');
    const resumed = await wsiVqa(flags(out, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`skipped ${join(out, `step-${STEPS - 1}`)} is damaged (${truncated}:`);
    expect(resumed.stderr).toContain(`${join(out, `step-${STEPS - 2}`)} is damaged (${join(out, `step-${STEPS - 2}`, 'trainer_state.json')}: not a trainer state`);
    expect(resumed.stderr).toContain(`resuming from the newest good checkpoint, ${join(out, `step-${STEPS - 3}`)}`);
    expect(sameWeights(join(out, 'final'), join(whole, 'final'))).toBe(true);
  }, 300_000);

  it('refuses a dataset that does not fit the stage, and numbers out of range, before any work', async () => {
    const out = join(root, 'refused');
    const labelsForStage2 = await wsiVqa(['train', '--stage', '2', '--llm-path', llm, '--data-path', data.labelsCsv, '--output-dir', out]);
    expect(labelsForStage2.code).toBe(1);
    expect(labelsForStage2.stderr).toContain(`${data.labelsCsv}: stage 2 trains on captions`);
    expect(labelsForStage2.stderr).toContain('this is a slide labels CSV (columns slide_id, label, features_path), for stage 0');
    const conversationsForStage0 = await wsiVqa(['train', '--stage', '0', '--data-path', data.conversationsJson, '--output-dir', out]);
    expect(conversationsForStage0.code).toBe(1);
    expect(conversationsForStage0.stderr).toContain(`${data.conversationsJson}: stage 0 trains the compressor on slide labels and expects a slide labels CSV`);
    for (const [flag, value] of [['--max-patches', '0'], ['--bucket-cap-mb', '-5'], ['--batch-size', '0'], ['--lr', '0'], ['--num-epochs', '1.5']]) {
      const bad = await wsiVqa([...flags(out), flag, value]);
      expect(bad.code, `${flag} ${value}`).not.toBe(0);
      expect(bad.stderr).toContain(`option '${flag} <`);
      expect(bad.stderr).toContain(`'${value}' is invalid`);
    }
    expect(existsSync(out)).toBe(false);
  }, 300_000);
});
