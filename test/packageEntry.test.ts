/**
 * The package's entry as a user's project resolves it (node_modules/wsi-vqa → this package):
 * `require` from CommonJS and `import` from an ES module give the same exports (Node ≥ 20.19
 * loads the ES module for `require`, which needs a module graph without top-level await), and
 * TypeScript types both the same way, config keys checked at compile time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the package entry', () => {
  it('require and import give the same exports, and engines asks for a Node that can require it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsi-vqa-entry-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'wsi-vqa'));
    writeFileSync(join(dir, 'names.cjs'), "const w = require('wsi-vqa'); console.log(JSON.stringify(Object.keys(w).sort()));");
    writeFileSync(join(dir, 'names.mjs'), "import * as w from 'wsi-vqa'; console.log(JSON.stringify(Object.keys(w).sort()));");
    const names = (file: string): string[] => JSON.parse(execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' }));
    const fromRequire = names('names.cjs');
    expect(fromRequire).toEqual(expect.arrayContaining(['trainStage', 'evaluate', 'ask', 'Qwen3Model', 'Tensor', 'WsiVqaError']));
    expect(fromRequire).toEqual(names('names.mjs').filter((name) => name !== 'default'));

    // TypeScript resolves the same declarations for a CommonJS file (TS ≥ 5.8 under nodenext).
    writeFileSync(join(dir, 'typed.cts'), "import wsi = require('wsi-vqa');\nconst stage: Promise<wsi.CompressorStageResult> = wsi.trainStage({ stage: 0, dataPath: 'labels.csv', outputDir: 'runs/s0', epochs: 2 });\nvoid stage;\n");
    writeFileSync(join(dir, 'typed-bad.cts'), "import wsi = require('wsi-vqa');\nvoid wsi.trainStage({ stage: 0, dataPath: 'labels.csv', outputDir: 'runs/s0', numEpochs: 2 });\n");
    mkdirSync(join(dir, 'node_modules', '@types'));
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--types', 'node', 'typed.cts', 'typed-bad.cts'], { cwd: dir, encoding: 'utf8' });
    // The one error: a config key that does not exist (checked at compile time), in typed-bad.cts.
    const errors = tsc.stdout.split('\n').filter((line) => /^\S+\.cts\(/.test(line));
    expect(errors, tsc.stdout).toEqual([expect.stringMatching(/^typed-bad\.cts\(2,/)]);
    expect(tsc.stdout).toMatch(/'numEpochs' does not exist/);

    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe('>=20.19');
    expect(pkg.exports['.'].require).toBe(pkg.exports['.'].import);
  }, 300_000);
});
