/**
 * A `config.json` that claims far more layers than its weights hold (a million, ten million) is
 * refused before a name is built per layer: a FormatError naming the file, the key and the
 * layers present, fast and in little memory — through the checkpoint loader, and through
 * `wsi-vqa ask` as users run it (the compiled CLI in dist/, its peak memory measured).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { openQwen3Checkpoint } from '../../lib/model/checkpoint.js';
import { makeTinyQwen3 } from '../../lib/model/tinyQwen3.js';
import { tempDir } from '../io/helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli/wsi-vqa.js', import.meta.url));
/** Prints the process's peak resident memory (kB) on stderr as it exits. */
const PEAK_MEMORY = 'data:text/javascript,process.on("exit",()=>process.stderr.write(`peak-rss-kb ${process.resourceUsage().maxRSS}\\n`))';

/** A tiny model of 2 layers whose config.json then claims `layers`. */
async function modelClaiming(layers: number): Promise<string> {
  const dir = join(tempDir(), 'llm');
  await makeTinyQwen3(dir, { hiddenSize: 16, layers: 2, heads: 2, kvHeads: 1, headDim: 8, intermediateSize: 24, seed: 1 });
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), num_hidden_layers: layers }));
  return dir;
}

describe('a config.json claiming more layers than its weights hold', () => {
  for (const layers of [3, 1e6, 1e7]) {
    it(`(${layers}) is a FormatError from the checkpoint loader, naming the file, the key and the layers present`, async () => {
      const dir = await modelClaiming(layers);
      const started = performance.now();
      const opening = openQwen3Checkpoint(dir);
      await expect(opening).rejects.toThrow(FormatError);
      await expect(opening).rejects.toThrow(`${join(dir, 'config.json')}: num_hidden_layers is ${layers} but ${join(dir, 'model.safetensors')} holds the tensors of 2 layers`);
      expect(performance.now() - started).toBeLessThan(1000);
    });
  }

  it('(1e7) makes `wsi-vqa ask` fail within 10 s and 500 MB, with an error naming the file and the key', async () => {
    const root = tempDir();
    const dir = await modelClaiming(1e7);
    const slide = join(root, 'slide.safetensors');
    await writeSafetensors(slide, { features: { dtype: 'F32', shape: [3, 512], data: new Float32Array(3 * 512).fill(0.5) } });
    const started = performance.now();
    const run = spawnSync(process.execPath, ['--import', PEAK_MEMORY, CLI, 'ask', '--llm-path', dir, '--slide', slide, '--question', 'What is this?'], { encoding: 'utf8', timeout: 10_000 });
    const seconds = (performance.now() - started) / 1000;
    const peakKb = Number(/peak-rss-kb (\d+)/.exec(run.stderr)?.[1]);
    console.log(`ask on a config of 1e7 layers: exit ${run.status} after ${seconds.toFixed(1)} s, peak memory ${(peakKb / 1024).toFixed(0)} MB`);
    expect(run.status).not.toBe(0);
    expect(run.signal).toBeNull();
    expect(run.stderr).toContain(`${join(dir, 'config.json')}: num_hidden_layers is 10000000`);
    expect(seconds).toBeLessThan(10);
    expect(peakKb).toBeLessThan(500 * 1024);
  });
});
