/**
 * Checkpoint folders on their own: what a killed save leaves is cleaned up at the next start
 * (but not a save still running in another process, and a checkpoint moved aside to be replaced
 * is put back); damaged checkpoints are found as such; run records tell runs apart; datasets are
 * checked against the stage.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../lib/data/sample.js';
import { ConfigError } from '../../lib/errors.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { findCheckpoints, removeUnfinishedCheckpoints, writeCheckpoint } from '../../lib/train/checkpoints.js';
import { parseTrainConfig } from '../../lib/train/config.js';
import { fileDigest, folderDigest } from '../../lib/train/fingerprint.js';
import { makeRunRecord, runDifferences } from '../../lib/train/runRecord.js';
import { checkStageData } from '../../lib/train/stageData.js';
import { tempDir } from '../io/helpers.js';

/** The id of a process that has ended. */
function endedPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

const config = (more: Record<string, unknown> = {}) => parseTrainConfig({ stage: 1, outputDir: 'out', ...more });

async function checkpointAt(out: string, name: string, step: number): Promise<string> {
  return writeCheckpoint(out, name, { step, epoch: 0, batchInEpoch: step, totalSteps: 10, config: config({ outputDir: out }) }, async (dir) => {
    await writeSafetensors(join(dir, 'projector.safetensors'), { w: { dtype: 'F32', shape: [4], data: new Float32Array([step, 1, 2, 3]) } });
  });
}

describe('checkpoint folders', () => {
  it('removes the temporary folders of ended runs, keeps a running one\'s, and puts back a checkpoint moved aside', async () => {
    const out = tempDir();
    await checkpointAt(out, 'step-1', 1);
    const dead = endedPid();
    mkdirSync(join(out, `.step-2.tmp-${dead}-0a1b2c3d`));
    writeFileSync(join(out, `.step-2.tmp-${dead}-0a1b2c3d`, 'projector.safetensors'), 'partial');
    // A save killed between moving the old step-1 aside and moving the new one in.
    await checkpointAt(out, 'final', 9);
    const aside = `.final.tmp-${dead}-99aa88bb.old`;
    renameSync(join(out, 'final'), join(out, aside));
    // A save of another process still running.
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      mkdirSync(join(out, `.step-3.tmp-${running.pid}-12345678`));
      const done = await removeUnfinishedCheckpoints(out);
      expect(done).toEqual(
        expect.arrayContaining([`removed ${join(out, `.step-2.tmp-${dead}-0a1b2c3d`)}, left by a run killed while saving`, `put back ${join(out, 'final')}, which a killed run had moved aside to replace it`]),
      );
      expect(readdirSync(out).sort()).toEqual([`.step-3.tmp-${running.pid}-12345678`, 'final', 'step-1']);
      expect(JSON.parse(readFileSync(join(out, 'final', 'trainer_state.json'), 'utf8')).step).toBe(9);
    } finally {
      running.kill();
    }
  });

  it('finds damaged checkpoints newest first, saying what is wrong, without throwing', async () => {
    const out = tempDir();
    for (const step of [1, 2, 3, 4]) await checkpointAt(out, `step-${step}`, step);
    const weights = readFileSync(join(out, 'step-4', 'projector.safetensors'));
    writeFileSync(join(out, 'step-4', 'projector.safetensors'), weights.subarray(0, weights.length - 4));
    writeFileSync(join(out, 'step-3', 'trainer_state.json'), '');
    writeFileSync(join(out, 'step-2', 'trainer_state.json'), '{"step": "two"}');
    const found = await findCheckpoints(out);
    expect(found.map((c) => [c.dir, c.state?.step, c.damage?.split(':')[0]])).toEqual([
      [join(out, 'step-4'), undefined, join(out, 'step-4', 'projector.safetensors')],
      [join(out, 'step-3'), undefined, join(out, 'step-3', 'trainer_state.json')],
      [join(out, 'step-2'), undefined, join(out, 'step-2', 'trainer_state.json')],
      [join(out, 'step-1'), 1, undefined],
    ]);
    expect(found[1].damage).toMatch(/not a trainer state/);
    expect(existsSync(join(out, 'step-4'))).toBe(true);
  });

  it('tells runs apart by their settings, global batch, parameters and sources, but not by where and how often they save', () => {
    const params = [] as never[];
    const run = makeRunRecord(config({ seed: 1, batchSize: 4 }), 1, params, { data: 'sha256:aa' });
    expect(runDifferences(run, config(), makeRunRecord(config({ seed: 1, batchSize: 4, outputDir: 'moved', saveEvery: 5, evalEvery: 2 }), 1, params, { data: 'sha256:aa' }))).toEqual([]);
    // Two ranks of 2 make the same global batch as one of 4.
    expect(runDifferences(run, config(), makeRunRecord(config({ seed: 1, batchSize: 2 }), 2, params, { data: 'sha256:aa' }))).toEqual([]);
    expect(runDifferences(run, config(), makeRunRecord(config({ seed: 2, batchSize: 4, lr: 1e-3 }), 2, params, { data: 'sha256:bb', model: 'sha256:cc' }))).toEqual([
      'seed: 1 in the checkpoint, 2 now',
      'lr: 0.0001 in the checkpoint, 0.001 now',
      'batch size × ranks: 4 in the checkpoint, 8 now',
      'data: sha256:aa in the checkpoint, sha256:bb now',
      'model: (not recorded) in the checkpoint, sha256:cc now',
    ]);
    // A checkpoint written before runs were recorded: its config is compared.
    expect(runDifferences(undefined, config({ seed: 3 }), run)).toEqual(['seed: 3 in the checkpoint, 1 now']);
  });

  it('digests files whole, and large ones by sampled windows; a folder by its files', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), '{"a": 1}');
    const before = await fileDigest(join(dir, 'a.json'));
    const folderBefore = await folderDigest(dir);
    expect(before).toMatch(/^sha256:[0-9a-f]{16}$/);
    writeFileSync(join(dir, 'a.json'), '{"a": 2}');
    expect(await fileDigest(join(dir, 'a.json'))).not.toBe(before);
    expect(await folderDigest(dir)).not.toBe(folderBefore);
    await expect(fileDigest(join(dir, 'missing.json'))).rejects.toThrow(`${join(dir, 'missing.json')}: cannot read file (no such file)`);
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    await expect(fileDigest(fifo)).rejects.toThrow(`${fifo}: cannot read file (not a regular file)`);
  });

  it('checks a dataset against the stage, naming the file and the format the stage expects', () => {
    const sample = (more: Partial<Sample>): Sample => ({ id: 'x', slideId: 's', features: [], turns: [], origin: { file: 'f', row: 2 }, ...more });
    const labelled = [sample({ label: 'lung' }), sample({ label: 'colon' })];
    expect(() => checkStageData(0, labelled, 'labels.csv')).not.toThrow();
    expect(() => checkStageData(2, labelled, 'labels.csv')).toThrow(ConfigError);
    expect(() => checkStageData(1, labelled, 'labels.csv')).toThrow('labels.csv: stage 1 trains on captions');
    expect(() => checkStageData(0, [sample({})], 'chat.json')).toThrow('chat.json: stage 0 trains the compressor on slide labels and expects a slide labels CSV (columns slide_id, label, features_path); this dataset holds questions and answers, not labels (row 2 has none)');
    expect(() => checkStageData(0, [sample({ label: 'lung' })], 'one.csv')).toThrow('one.csv: stage 0 needs at least 2 classes to learn, the labels are all "lung"');
    expect(() => checkStageData(2, [], 'empty.json')).toThrow('empty.json: no samples to train stage 2 on');
    expect(() => checkStageData(2, [sample({})], 'chat.json')).not.toThrow();
  });
});
