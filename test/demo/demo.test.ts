/**
 * The main job end to end, much shorter than `wsi-vqa demo` (32 slides, a few steps per stage),
 * on the CPU: synthetic slides → tiny Qwen3 → stages 0, 1, 2 → evaluation and report. Too short
 * to learn much from the slides; `.ci/run` runs the full demo and checks that bar.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_FILE, runDemo } from '../../lib/demo/demo.js';
import { ConfigError } from '../../lib/errors.js';
import { readMetrics } from '../../lib/train/trainer.js';
import { VqaModel } from '../../lib/vqa/vqaModel.js';
import { tempDir } from '../io/helpers.js';

describe('demo pipeline (quick)', () => {
  it('trains every stage, evaluates against the baselines and writes results, summary, chart and report', async () => {
    // An earlier demo's folder (its demo.json) is cleared first.
    const out = tempDir();
    writeFileSync(join(out, DEMO_FILE), '{"running":true}\n');
    writeFileSync(join(out, 'stale.txt'), 'from an earlier run');
    const lines: string[] = [];
    const summary = await runDemo({ out, quick: true, progress: 'none', log: (line) => lines.push(line) });
    console.log(lines.join('\n'));
    expect(existsSync(join(out, 'stale.txt'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, DEMO_FILE), 'utf8'))).toEqual(summary);
    for (const value of [summary.accuracy, summary.majorityBaseline, summary.blindAccuracy, summary.shuffledAccuracy]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    for (const stage of ['stage0', 'stage2']) {
      const losses = (await readMetrics(join(out, stage, 'metrics.jsonl'))).map((m) => m.loss);
      expect(losses.at(-1), stage).toBeLessThan(losses[0]);
    }
    // Kept: what a user looks at and the final model, which loads; gone: what only made them.
    for (const file of ['results.json', 'summary.csv', 'accuracy.svg', 'report.html', 'stage0/final/compressor.safetensors', 'stage2/final/projector.safetensors', 'stage2/final/llm/model.safetensors']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    for (const file of ['data', 'tiny-qwen3', 'stage1/final/projector.safetensors', ...['stage0', 'stage1', 'stage2'].map((stage) => `${stage}/final/optimizer.safetensors`)]) {
      expect(existsSync(join(out, file)), file).toBe(false);
    }
    expect(folderBytes(out)).toBeLessThan(50e6);
    // The files the log names as the final model load.
    const flags = lines.find((line) => line.includes('the final model:'))!.match(/--moe-checkpoint (\S+) --load-projector (\S+) --llm-path (\S+)/)!;
    expect(flags.slice(1)).toEqual([join(out, 'stage0/final/compressor.safetensors'), join(out, 'stage2/final/projector.safetensors'), join(out, 'stage2/final/llm')]);
    const model = await VqaModel.load({ compressorPath: flags[1], projectorPath: flags[2], llmPath: flags[3] });
    expect(model.compressor.params.get('experts.0.net.0.weight')!.shape).toEqual([32, 1024]);
    model.dispose();
    expect(Object.keys(summary.categories).sort()).toEqual(['Histologic Finding', 'Tissue Origin']);
    for (const c of Object.values(summary.categories)) expect(c.questions).toBe(8);
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('variant,group,name,accuracy,ci_low,ci_high,correct,questions,majority_letter');
    expect(csv).toMatch(/^majority,narrow,"Tissue Origin",[\d.]+,[\d.]+,[\d.]+,\d+,8,[A-D]$/m);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(Object.keys(results.predictions).sort()).toEqual(['blind', 'model', 'shuffled']);
    expect(results.predictions.model).toHaveLength(16);
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    expect(report).toContain('<svg');
    expect(report).toContain('Stage 2: projector and LLM on conversations');
    for (const heading of ['What this is', 'Results on held-out slides', 'Example questions', 'Run settings']) expect(report).toContain(heading);
    expect(report).toContain('chance (25 %)');
  }, 600_000);

  it('keeps the data, the initial model and every checkpoint whole with keepAll', async () => {
    const out = tempDir();
    await runDemo({ out, quick: true, keepAll: true, progress: 'none', log: () => {} });
    for (const file of ['data/labels.csv', 'tiny-qwen3/model.safetensors', 'stage1/final/projector.safetensors', ...['stage0', 'stage1', 'stage2'].map((stage) => `${stage}/final/optimizer.safetensors`)]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
  }, 600_000);

  it('refuses a folder that holds something else, and leaves it as it was', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await expect(runDemo({ out, quick: true, progress: 'none', log: () => {} })).rejects.toThrow(ConfigError);
    await expect(runDemo({ out, quick: true, progress: 'none', log: () => {} })).rejects.toThrow(/is not empty and no earlier demo wrote it/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
  });
});

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((bytes, entry) => bytes + statSync(join(entry.parentPath, entry.name)).size, 0);
}
