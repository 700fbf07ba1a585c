import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerDataCommand } from '../../lib/cli/dataCommand.js';
import { checkDataset } from '../../lib/data/check.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { ramp, tempDir, writeTemp } from '../io/helpers.js';

/** A dataset with one problem of each kind, and the features it points at. */
async function brokenDataset(): Promise<{ dir: string; file: string }> {
  const dir = tempDir();
  await writeSafetensors(join(dir, 'good.safetensors'), { features: { dtype: 'F32', shape: [2, 512], data: ramp(2, 512) } });
  await writeSafetensors(join(dir, 'wide.safetensors'), { features: { dtype: 'F32', shape: [2, 700], data: new Float32Array(1400) } });
  const nan = ramp(2, 1024);
  nan[1500] = NaN;
  await writeSafetensors(join(dir, 'nan.safetensors'), { features: { dtype: 'F32', shape: [2, 1024], data: nan } });
  const turns = (question: string) => [
    { from: 'human', value: question },
    { from: 'gpt', value: 'answer' },
  ];
  const file = writeTemp(
    dir,
    'train.json',
    JSON.stringify([
      { id: 'fine', image: 'good.safetensors', conversations: turns('<image>\nWhat is it?') },
      { id: 'no-image', image: 'good.safetensors', conversations: turns('What is it?') },
      { id: 'missing', image: 'missing.pt', conversations: turns('<image> What?') },
      { id: 'wide', image: 'wide.safetensors', conversations: turns('<image> What?') },
      { id: 'nan', image: 'nan.safetensors', conversations: turns('<image> What?') },
      { id: 'unparsable', image: 'good.safetensors' },
    ]),
  );
  return { dir, file };
}

describe('checkDataset', () => {
  it('finds every problem with file and row', async () => {
    const { dir, file } = await brokenDataset();
    const result = await checkDataset(file);
    expect(result.ok).toBe(false);
    expect(result.samples).toBe(5);
    expect(result.problems.map((p) => [p.file, p.row])).toEqual([
      [file, 2],
      [file, 3],
      [file, 4],
      [file, 5],
      [file, 6],
    ]);
    const messages = result.problems.map((p) => p.message);
    expect(messages[0]).toMatch(/no <image> placeholder/);
    expect(messages[1]).toBe(`features: ${join(dir, 'missing.pt')}: cannot read file (no such file)`);
    expect(messages[2]).toMatch(/features: .*wide\.safetensors: feature width 700 is not supported/);
    expect(messages[3]).toMatch(/features: .*nan\.safetensors: patch row 1 \(0-based\) has a NaN value/);
    expect(messages[4]).toBe('record has no "conversations" list');
    expect(result.kinds.map((k) => k.count)).toEqual([1, 1, 1, 1, 1]);
    expect(result.kinds[1].kind).toBe('features: cannot read file (no such file)');
    expect(result.featureFiles).toEqual({ named: 4, read: 1, missing: 1 });
  });

  it('reports answers not among the choices', async () => {
    const dir = tempDir();
    await writeSafetensors(join(dir, 'S1.safetensors'), { features: { dtype: 'F32', shape: [1, 1024], data: ramp(1, 1024) } });
    const sample = { slide_id: 'S1', question: 'Q?', choices: ['A) x', 'B) y'], features_path: 'S1.safetensors' };
    const file = writeTemp(dir, 'bench.json', JSON.stringify({ samples: [{ ...sample, answer: 'B' }, { ...sample, answer: 'E' }] }));
    const result = await checkDataset(file);
    expect(result.problems).toEqual([{ file, row: 2, message: 'answer "E" is not among the choices (A, B)' }]);
  });

  it('reports an unreadable or unrecognisable file at row 0', async () => {
    const dir = tempDir();
    const result = await checkDataset(join(dir, 'absent.json'));
    expect(result).toMatchObject({ ok: false, samples: 0, problems: [{ row: 0 }] });
    expect(result.problems[0].message).toMatch(/absent\.json: cannot read file \(no such file\)/);
  });
});

describe('wsi-vqa data check', () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  async function run(args: string[]): Promise<string> {
    let output = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output += String(chunk);
      return true;
    });
    const program = new Command('wsi-vqa').exitOverride();
    registerDataCommand(program);
    await program.parseAsync(['data', 'check', ...args], { from: 'user' });
    return output;
  }

  it('prints {ok, samples, problems} with --json and exits with code 1 on problems', async () => {
    const { file, dir } = await brokenDataset();
    const result = JSON.parse(await run([file, '--features-dir', dir, '--json']));
    expect(result.ok).toBe(false);
    expect(result.samples).toBe(5);
    expect(result.problems).toHaveLength(5);
    expect(result.problems[0]).toEqual({ file, row: 2, message: expect.stringMatching(/no <image>/) });
    expect(process.exitCode).toBe(1);
  });

  it('prints file:row: message lines and a summary', async () => {
    const { file } = await brokenDataset();
    const lines = (await run([file])).trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: no <image>`));
    expect(lines.at(-1)).toBe('5 problem(s) in 5 row(s); 5 samples read');
  });

  it('counts the kinds of problem that repeat, and says where feature files were looked for when none exists', async () => {
    const dir = tempDir();
    const row = (slide: string) => ({ slide_id: slide, question: 'Q?', answer: 'A.', features_path: `feats/${slide}.pt` });
    const file = writeTemp(dir, 'vqa.json', JSON.stringify([row('S1'), row('S2'), row('S1'), { slide_id: 'S3' }]));
    const lines = (await run([file])).trim().split('\n');
    expect(lines.slice(-4)).toEqual([
      '4 problem(s) in 4 row(s); 3 samples read',
      'most frequent:',
      '  3 × features: cannot read file (no such file)',
      `none of the 2 feature files the samples name exists: are they in ${dir}? (--features-dir names the folder that feature paths are relative to)`,
    ]);
    expect(lines.slice(0, 3).map((line) => line.split(': features: ')[1])).toEqual([`${join(dir, 'feats', 'S1.pt')}: cannot read file (no such file)`, `${join(dir, 'feats', 'S2.pt')}: cannot read file (no such file)`, `${join(dir, 'feats', 'S1.pt')}: cannot read file (no such file)`]);
  });

  it('exits with code 0 on a clean dataset', async () => {
    const dir = tempDir();
    await writeSafetensors(join(dir, 'S1.safetensors'), { features: { dtype: 'F32', shape: [1, 1024], data: ramp(1, 1024) } });
    const file = writeTemp(dir, 'vqa.json', JSON.stringify([{ slide_id: 'S1', question: 'Q?', answer: 'A.', features_path: 'S1.safetensors' }]));
    expect(await run([file])).toBe('ok: 1 samples, no problems\n');
    expect(process.exitCode).toBeUndefined();
  });
});
