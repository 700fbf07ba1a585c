/**
 * The README's training script (stage 0 → 1 → 2 → evaluation), taken from the README as it is
 * written there: type-checked under strict TypeScript against the package's own types, then run
 * with node in a fresh folder where `wsi-vqa` resolves to this package, as it would for a user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const MARKER = '<!-- test/readmeScript.test.ts runs this script as it is written here. -->';

function readmeScript(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const after = readme.split(MARKER)[1];
  const block = after?.match(/^\s*```ts\n([\s\S]*?)\n```/);
  if (!block) throw new Error(`README.md: no \`\`\`ts block right after ${MARKER}`);
  return block[1];
}

describe("the README's training script", () => {
  it('type-checks strictly and runs stage 0 → 1 → 2 → evaluation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsi-vqa-readme-'));
    mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
    symlinkSync(root, join(dir, 'node_modules', 'wsi-vqa'));
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
    const script = readmeScript();
    writeFileSync(join(dir, 'train.mts'), script);
    writeFileSync(join(dir, 'train.mjs'), script);

    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const typecheck = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--types', 'node', 'train.mts'], { cwd: dir, encoding: 'utf8' });
    expect(typecheck.status, typecheck.stdout).toBe(0);

    const output = execFileSync(process.execPath, ['train.mjs'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(output).toMatch(/questions: 8/);
    for (const file of ['runs/s0/final/compressor.safetensors', 'runs/s1/final/projector.safetensors', 'runs/s2/final/llm/model.safetensors', 'runs/s2/report.html', 'runs/eval/results.json']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
  }, 600_000);
});
