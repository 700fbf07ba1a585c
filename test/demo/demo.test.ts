/**
 * The main job end to end, shorter than `wsi-vqa demo` (fewer slides and steps), on the CPU:
 * synthetic slides → tiny Qwen3 → stages 0, 1, 2 → evaluation and report. It must learn from the
 * slide: above the majority letter and the blind model, with shuffled slides back near them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../lib/demo/demo.js';
import { tempDir } from '../io/helpers.js';

describe('demo pipeline (quick)', () => {
  it('learns to answer from the slide, and writes results, summary, chart and report', async () => {
    const out = tempDir();
    const lines: string[] = [];
    const summary = await runDemo({ out, quick: true, progress: 'none', log: (line) => lines.push(line) });
    console.log(lines.join('\n'));
    expect(summary.accuracy).toBeGreaterThan(summary.majorityBaseline + 0.1);
    expect(summary.accuracy).toBeGreaterThan(summary.blindAccuracy + 0.1);
    expect(summary.shuffledAccuracy).toBeLessThan(summary.accuracy - 0.1);
    for (const file of ['results.json', 'summary.csv', 'accuracy.svg', 'report.html', 'stage2/final/llm/model.safetensors', 'stage1/final/projector.safetensors', 'stage0/final/compressor.safetensors']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    expect(report).toContain('<svg');
    expect(report).toContain('Stage 2: projector and LLM on conversations');
  }, 600_000);
});
